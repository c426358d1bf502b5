"""The next-segment evaluation: held-out sentences cut into prompt and true completion (`prompts`), seeded sampling
(`sampling`), the scoring and the task (`task`), its result (`result`), its flags (`arguments`) and the in-training
callback (`callback`)."""
