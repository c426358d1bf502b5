"""The starvation forecast: how many of GRPO's prompt groups will earn one reward for every sample under RPT's reward,
read off the starting model before any training, and checked against samples."""
