"""Writing the outputs: tables, paper tables, figures, paper figures, sweeps, bootstrap, statistics.

The last stage: may import every stage below it (config to evaluation) and runtime."""
