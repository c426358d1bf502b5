"""GLUE tasks evaluated during training: the callback and its flags for the SFT and GRPO commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from transformers import Trainer

from ..callback import EvalCallback
from .prompts import DEFAULT_FEWSHOT_SEED, build_task_prompts
from .spec import GlueTaskSpec, get_task, select_tasks
from .task import GlueTask, Scoring


DEFAULT_CALLBACK_TASKS = ("cola",)


class GlueEvalCallback(EvalCallback):
    """Every `eval_steps` optimizer steps, evaluate the trained model on GLUE tasks and log `eval/<task>/<metric>`.

    ```python
    >>> trainer = GRPOTrainer(...)
    >>> trainer.add_callback(GlueEvalCallback(trainer, ["cola"], eval_steps=50, data_dir="glue", max_samples=256))
    ```

    Args:
        trainer, eval_steps: As for `EvalCallback`.
        tasks: Task names or specs (see `rlpt_trl.evaluation.glue.spec`).
        data_dir: GLUE root folder; None reads `nyu-mll/glue` from the Hub.
        max_samples: Evaluate the first N validation rows of each task (None: all).
        num_fewshot, fewshot_seed, scoring, batch_size, max_new_tokens: As for `recipes/evaluate_glue.py`;
            `batch_size` defaults to the trainer's `per_device_eval_batch_size`.
    """

    def __init__(
        self,
        trainer: Trainer,
        tasks: Sequence[str | GlueTaskSpec] = DEFAULT_CALLBACK_TASKS,
        *,
        eval_steps: int | None = None,
        data_dir: str | Path | None = None,
        max_samples: int | None = 256,
        num_fewshot: int = 0,
        fewshot_seed: int = DEFAULT_FEWSHOT_SEED,
        scoring: Scoring = "loglik",
        batch_size: int | None = None,
        max_new_tokens: int = 5,
    ):
        glue_tasks = [
            GlueTask(
                build_task_prompts(
                    get_task(task) if isinstance(task, str) else task,
                    data_dir=data_dir,
                    num_fewshot=num_fewshot,
                    seed=fewshot_seed,
                    max_samples=max_samples,
                ),
                scoring=scoring,
                batch_size=batch_size or trainer.args.per_device_eval_batch_size,
                max_new_tokens=max_new_tokens,
            )
            for task in tasks
        ]
        super().__init__(trainer, glue_tasks, eval_steps)


@dataclass
class GlueEvalCallbackArguments:
    """Flags of the in-training GLUE evaluation, for a training recipe's `TrlParser` (SFT, GRPO)."""

    glue_eval_steps: int = field(
        default=0,
        metadata={"help": "Every N optimizer steps, evaluate on GLUE and log eval/<task>/<metric> (0: off)."},
    )
    glue_eval_tasks: list[str] | None = field(
        default=None,
        metadata={"help": "Built-in tasks to evaluate. Default: cola, or none when --glue_eval_task_config is given."},
    )
    glue_eval_task_config: list[str] = field(
        default_factory=list,
        metadata={"help": "YAML task files evaluated after --glue_eval_tasks (as --task_config of rlpt-trl eval)."},
    )
    glue_eval_data_dir: str | None = field(
        default=None, metadata={"help": "GLUE root folder for the evaluation. Default: nyu-mll/glue from the Hub."}
    )
    glue_eval_max_samples: int | None = field(default=256, metadata={"help": "First N validation rows per task."})
    glue_eval_num_fewshot: int = field(default=0, metadata={"help": "Solved train examples before each prompt."})
    glue_eval_scoring: Scoring = field(default="loglik", metadata={"help": "Scoring mode."})


def glue_eval_callback(trainer: Trainer, args: GlueEvalCallbackArguments) -> GlueEvalCallback | None:
    """The callback that `args` asks for, or None when `glue_eval_steps` is 0."""
    if args.glue_eval_steps <= 0:
        return None
    return GlueEvalCallback(
        trainer,
        select_tasks(args.glue_eval_tasks, args.glue_eval_task_config, default=DEFAULT_CALLBACK_TASKS),
        eval_steps=args.glue_eval_steps,
        data_dir=args.glue_eval_data_dir,
        max_samples=args.glue_eval_max_samples,
        num_fewshot=args.glue_eval_num_fewshot,
        scoring=args.glue_eval_scoring,
    )
