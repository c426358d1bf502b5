"""GRPO on prompt / completion data: script arguments, up-front checks, dataset loading and the trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset, load_from_disk
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.integrations import TensorBoardCallback
from trl import GRPOConfig, GRPOTrainer, ScriptArguments

from .embeddings import DEFAULT_EMBEDDING_MODEL
from .errors import RlptError


EMBEDDING_REWARD = "embedding_cosine_reward"


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Script arguments of `recipes/grpo.py`.

    `dataset_name` is a folder written by `rlpt-trl data` (`save_to_disk`) or a Hub dataset id.
    """

    reward_funcs: list[str] = field(
        default_factory=lambda: ["perplexity_reward", EMBEDDING_REWARD],
        metadata={"help": "Registered reward names (see rlpt_trl.rewards) or dotted import paths."},
    )
    scorer_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Frozen LM of the perplexity reward (Hub id, dir or .gguf); default: the policy's start."},
    )
    embedding_model_name_or_path: str = field(
        default=DEFAULT_EMBEDDING_MODEL, metadata={"help": "sentence-transformers model of the embedding reward."}
    )
    reward_batch_size: int = field(default=32, metadata={"help": "Batch size of the reward models' forward passes."})
    text_column: str = field(default="text", metadata={"help": "Column with the original sentence."})
    scores_column: str = field(default="scores", metadata={"help": "Column with the acceptability score."})
    embedding_column: str = field(
        default="target_embedding", metadata={"help": "Column with the original sentence's L2-normalised embedding."}
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep the first N training rows."})


def reward_config(script_args: GRPOScriptArguments, training_args: GRPOConfig, policy: str) -> dict:
    """The settings `rlpt_trl.rewards.get_reward_funcs` takes, from the script and training arguments."""
    return {
        "scorer_model_name_or_path": script_args.scorer_model_name_or_path or policy,
        "embedding_model_name_or_path": script_args.embedding_model_name_or_path,
        "reward_batch_size": script_args.reward_batch_size,
        "num_generations": training_args.num_generations,
        "text_column": script_args.text_column,
        "scores_column": script_args.scores_column,
        "embedding_column": script_args.embedding_column,
    }


def load_prompt_dataset(script_args: GRPOScriptArguments) -> Dataset:
    """Load the training split from a `save_to_disk` folder or from the Hub."""
    name = script_args.dataset_name
    if not name:
        raise RlptError("--dataset_name is required: a folder written by `rlpt-trl data` or a Hub dataset id")
    split = script_args.dataset_train_split
    path = Path(name).expanduser()
    if path.is_dir():
        try:
            dataset = load_from_disk(str(path))
        except FileNotFoundError as err:
            raise RlptError(f"not a dataset saved with save_to_disk: {name} ({err})") from None
        if isinstance(dataset, DatasetDict):
            if split not in dataset:
                raise RlptError(f"{name} has no split {split!r} (splits: {', '.join(dataset)})")
            dataset = dataset[split]
    elif name.startswith((".", "/", "~")):
        raise RlptError(f"dataset path does not exist: {name}")
    else:
        try:
            dataset = load_dataset(name, name=script_args.dataset_config, split=split)
        except Exception as err:  # noqa: BLE001 - any Hub/network failure becomes one actionable line
            raise RlptError(f"cannot load dataset {name} from the Hub: {type(err).__name__}: {err}") from None
    if script_args.max_train_samples is not None:
        dataset = dataset.select(range(min(script_args.max_train_samples, len(dataset))))
    return dataset


def check_grpo_setup(
    script_args: GRPOScriptArguments, training_args: GRPOConfig, dataset: Dataset, reward_funcs: list
) -> None:
    """Fail with one line, before any model loads, on settings TRL would only reject later (or never)."""
    weights = training_args.reward_weights
    if weights is not None and len(weights) != len(reward_funcs):
        raise RlptError(
            f"reward_weights has {len(weights)} values but {len(reward_funcs)} reward functions are set "
            f"({', '.join(script_args.reward_funcs)})"
        )
    if len(dataset) == 0:
        raise RlptError(f"dataset {script_args.dataset_name} has no rows")
    columns = set(dataset.column_names)
    required = {"prompt"}
    if EMBEDDING_REWARD in script_args.reward_funcs:
        required.add(script_args.scores_column)
        if script_args.embedding_column not in columns:
            required.add(script_args.text_column)
    missing = sorted(required - columns)
    if missing:
        raise RlptError(
            f"dataset {script_args.dataset_name} lacks column(s) {', '.join(missing)} "
            f"(has {', '.join(sorted(columns))})"
        )


class CompletionSamplesCallback(TrainerCallback):
    """Write a sample of the latest prompts, completions and rewards to TensorBoard as a Markdown table."""

    def __init__(self, trainer: GRPOTrainer, num_samples: int = 8) -> None:
        self.trainer = trainer
        self.num_samples = num_samples

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        writers = [
            cb.tb_writer
            for cb in self.trainer.callback_handler.callbacks
            if isinstance(cb, TensorBoardCallback) and cb.tb_writer is not None
        ]
        # GRPOTrainer keeps the latest generation batch in `_logs` for its own completion tables
        buffer = getattr(self.trainer, "_logs", None)
        if not writers or not buffer or not buffer.get("prompt"):
            return
        prompts = list(buffer["prompt"])[-self.num_samples :]
        completions = list(buffer["completion"])[-self.num_samples :]
        rewards = {name: list(values)[-self.num_samples :] for name, values in buffer["rewards"].items()}
        header = "| prompt | completion | " + " | ".join(rewards) + " |"
        rule = "|---" * (2 + len(rewards)) + "|"
        rows = [
            "| "
            + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in (prompt, completion))
            + " | "
            + " | ".join(f"{values[i]:.3f}" for values in rewards.values())
            + " |"
            for i, (prompt, completion) in enumerate(zip(prompts, completions))
        ]
        for writer in writers:
            writer.add_text("completions", "\n".join([header, rule, *rows]), state.global_step)
            writer.flush()


class RLPTGRPOTrainer(GRPOTrainer):
    """`trl.GRPOTrainer` whose model card also names the base model, reward functions, weights and settings."""

    def __init__(self, *args, base_model: str | None = None, dataset_name: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.base_model = base_model
        self.rlpt_dataset_name = dataset_name

    def create_model_card(self, model_name=None, dataset_name=None, tags=None) -> None:
        super().create_model_card(model_name=model_name, dataset_name=dataset_name or self.rlpt_dataset_name, tags=tags)
        if not self.is_world_process_zero():
            return
        args = self.args
        weights = args.reward_weights or [1.0] * len(self.reward_func_names)
        lines = [
            "",
            "",
            "## rlpt_trl GRPO run",
            "",
            f"- base model: `{self.base_model}`",
            f"- dataset: `{dataset_name or self.rlpt_dataset_name}`",
            "- reward functions (weight): "
            + ", ".join(f"`{name}` ({weight:g})" for name, weight in zip(self.reward_func_names, weights)),
            f"- learning rate {args.learning_rate:g}, {args.max_steps if args.max_steps > 0 else args.num_train_epochs}"
            f" {'steps' if args.max_steps > 0 else 'epochs'}, {args.per_device_train_batch_size} completions per"
            f" device batch, {args.num_generations} generations per prompt, max {args.max_completion_length}"
            f" new tokens, temperature {args.temperature:g}, ratio clip {args.epsilon:g}, beta {args.beta:g},"
            f" loss `{args.loss_type}`",
            "",
        ]
        with open(Path(args.output_dir) / "README.md", "a", encoding="utf-8") as card:
            card.write("\n".join(lines))
