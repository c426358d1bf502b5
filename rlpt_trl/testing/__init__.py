"""Helpers for tests, benchmarks and the quickstart, not part of the training or evaluation API: tiny models built
locally in under a second (`tiny_models`), the local real assets and the variables that point tests at them
(`assets`, `rlpt-trl assets`), and TensorBoard scalars read back from a run (`tensorboard`). Import each from its
module."""
