"""The GLUE tasks' own flags, for `rlpt-trl eval` and the in-training evaluation of every trainer command."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...utils.errors import RlptError
from ..arguments import RepeatableList
from .prefix_cache import PrefixCacheMode, check_prefix_cache
from .prompts import DEFAULT_FEWSHOT_SEED
from .task import SCORING_MODES, Scoring


@dataclass
class GlueArguments:
    """How GLUE tasks are prompted and scored (`rlpt_trl.evaluation.glue`)."""

    task_config: list[str] = field(
        default_factory=list,
        metadata={
            "help": "YAML task file (the fields of GlueTaskSpec, as in rlpt_trl/evaluation/glue/task_configs/cola.yaml);"
            " repeat the flag or list several. Its tasks run after the named ones; a task file may not reuse the "
            "name of a built-in task or of another file's task. Default tasks (no task named): cola stsb mrpc rte "
            "wnli, or none when a task file is given.",
            "action": RepeatableList,
        },
    )
    scoring: Scoring = field(
        default="loglik",
        metadata={"help": "loglik: choice log-likelihoods (one forward per prompt); generate: greedy text."},
    )
    num_fewshot: int = field(default=0, metadata={"help": "Solved train examples before each prompt."})
    fewshot_seed: int = field(default=DEFAULT_FEWSHOT_SEED, metadata={"help": "Seed drawing the few-shot examples."})
    prefix_cache: PrefixCacheMode = field(
        default="auto",
        metadata={
            "help": "auto: compute the few-shot examples that every prompt of a task starts with once and reuse their "
            "key/value cache (a prompt whose tokens do not start with them is computed whole and counted in "
            "metrics.json's prefix_cache.fallbacks); off: compute every prompt whole."
        },
    )
    max_new_tokens: int = field(default=5, metadata={"help": "Generated tokens per prompt (generate scoring)."})

    def check(self) -> None:
        """One error line for a value no GLUE task can run with."""
        if self.scoring not in SCORING_MODES:
            raise RlptError(f"unknown --scoring {self.scoring!r}; choose from {', '.join(SCORING_MODES)}")
        check_prefix_cache(self.prefix_cache)
        for name, least in (("max_new_tokens", 1), ("num_fewshot", 0)):
            if getattr(self, name) < least:
                raise RlptError(f"--{name} must be at least {least}, got {getattr(self, name)}")
