"""rlpt_trl: reinforcement-learning pre-training of small language models with TRL.

What users call, loaded lazily: the data build, the rewards and their factories (the ready rewards are at dotted
paths in `rlpt_trl.rewards`, for `trl grpo --reward_funcs`), the trainer commands and their configs, the evaluation's
entry points and the model loading. Subpackages: `data`, `rewards`, `trainer`, `evaluation`, `models`, `scripts` (the
commands), `testing` (helpers for tests and benchmarks), `utils`.
"""

from typing import TYPE_CHECKING

from .utils.lazy import lazy_exports


__version__ = "0.1.0"

_EXPORTS = {
    "DataBuildArguments": ".data.build",
    "build_dataset": ".data.build",
    "load_glue": ".data.glue",
    "load_prompt_dataset": ".data.prompt_dataset",
    "load_seed_pair": ".data.seed_format",
    "RewardArguments": ".rewards",
    "get_embedding_cosine_reward": ".rewards",
    "get_perplexity_reward": ".rewards",
    "get_prefix_match_reward": ".rewards",
    "get_reward_funcs": ".rewards",
    "get_rpt_prefix_reward": ".rewards",
    "FlopsArguments": ".trainer.flops",
    "RewardScriptArguments": ".trainer.reward_command",
    "RewardTrainerCommand": ".trainer.reward_command",
    "TrainerCommand": ".trainer.command",
    "run_command": ".cli",
    "EvalArguments": ".evaluation.arguments",
    "EvalCallbackArguments": ".evaluation.arguments",
    "EvalCallback": ".evaluation.callback",
    "run_eval": ".evaluation.runner",
    "encode_normalized": ".models.embeddings",
    "load_embedding_model": ".models.embeddings",
    "resolve_dtype": ".models.devices",
    "import_gguf": ".models.loading",
    "load_model_and_tokenizer": ".models.loading",
    "RlptError": ".utils.errors",
}
__all__ = ["__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .cli import run_command
    from .data.build import DataBuildArguments, build_dataset
    from .data.glue import load_glue
    from .data.prompt_dataset import load_prompt_dataset
    from .data.seed_format import load_seed_pair
    from .evaluation.arguments import EvalArguments, EvalCallbackArguments
    from .evaluation.callback import EvalCallback
    from .evaluation.runner import run_eval
    from .models.devices import resolve_dtype
    from .models.embeddings import encode_normalized, load_embedding_model
    from .models.loading import import_gguf, load_model_and_tokenizer
    from .rewards import (
        RewardArguments,
        get_embedding_cosine_reward,
        get_perplexity_reward,
        get_prefix_match_reward,
        get_reward_funcs,
        get_rpt_prefix_reward,
    )
    from .trainer.command import TrainerCommand
    from .trainer.flops import FlopsArguments
    from .trainer.reward_command import RewardScriptArguments, RewardTrainerCommand
    from .utils.errors import RlptError
