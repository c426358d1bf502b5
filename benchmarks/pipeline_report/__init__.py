"""The results report of benchmarks/run_pipeline.py: hardware, training curves, baselines and the README."""
