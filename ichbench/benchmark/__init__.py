"""Benchmark runs: `ichbench run` (jobs over models and folds) and `ichbench evaluate` (external validation)."""
