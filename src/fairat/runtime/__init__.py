"""Process plumbing apart from the science: job server, GPU slots, logs, progress bars, provenance.

Imports nothing from fairat outside runtime; any stage may import it."""
