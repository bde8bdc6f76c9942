"""A config's vocabulary (params, registry, eps, attack_names, corruptions), its resolution and checks.
The vocabulary imports only itself and runtime; the rest may import up to methods (tests/test_layout.py)."""
