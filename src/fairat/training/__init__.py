"""Training one run: the loop, device and precision, the network, shared prefixes.

May import config, data, models, attacks, methods, evaluation (its sibling stage) and runtime."""
