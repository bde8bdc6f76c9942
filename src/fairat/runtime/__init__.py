"""Process plumbing apart from the science: job server, GPU slots, logs, progress bars, provenance,
atomic files and safe loads (checkpoint), the errors several stages share (errors).

Imports nothing from fairat outside runtime; any stage may import it."""
