"""Evaluating checkpoints: the attack suite, metrics, zoo models, corruptions, confusion counts.

May import config, data, models, attacks, methods, training (its sibling stage) and runtime."""
