"""The command-line scripts, one module per `rlpt-trl` command (`data`, `sft`, `grpo`, `rloo`, `ntp`, `eval`).

Each has `make_parser(prog)` and `main(*dataclasses)` (a trainer command's are its `TrainerCommand`'s): `rlpt_trl.cli`
runs them in-process, `recipes/*.py` under `python` or `accelerate launch`, and tests call them directly.
"""
