"""Writing the outputs: tables, paper tables, figures, paper figures, sweeps, bootstrap, statistics.

May import every stage below it (config to evaluation) and runtime; nothing in src imports it."""
