"""Process plumbing apart from the science: job server, GPU slots, logs, progress bars, provenance,
atomic files and safe loads (checkpoint).

Imports nothing from fairat outside runtime; any stage may import it."""
