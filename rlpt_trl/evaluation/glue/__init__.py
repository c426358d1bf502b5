"""GLUE evaluation: tasks as YAML specs (`spec`, `task_configs/`), prompts with few-shot examples (`prompts`),
log-likelihood and generation scoring (`loglik`, `generate`, with the few-shot `prefix_cache`), the official metrics
through `evaluate` (`metrics`, `glue_metric/`), the task and its result (`task`) and the in-training callback
(`callback`)."""
