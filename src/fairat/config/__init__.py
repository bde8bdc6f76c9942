"""Reading and checking a config: eps, parameters, the name registry, variants, runs and schema;
and the errors several stages share (errors.py).

Lowest stage: imports only runtime, but for the registries above it (tests/test_layout.py lists)."""
