"""Paper 001's theory: closed forms for two Gaussian classes, the Monte-Carlo check, the figures.
Apart from the pipeline: imports numpy, scipy, pandas, matplotlib, seaborn, no other fairat code."""
