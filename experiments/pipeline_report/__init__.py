"""The results report of experiments/run_pipeline.py: hardware, training curves, baselines and the README."""
