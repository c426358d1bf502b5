"""TRL's reward trainers with a model card that records the run's base model, rewards and settings."""

from __future__ import annotations

from pathlib import Path

from trl import GRPOTrainer, RLOOTrainer

from .dynamic_sampling import DynamicSampling
from .prompt_order import ResumablePromptOrder
from .shared_prompt import SharedPromptForward
from .zero_advantage import SkipZeroAdvantageRows


class RewardModelCard:
    """Mixin for a TRL trainer with `reward_func_names`: its model card also names the base model, the reward
    functions with their weights, and the sampling and optimisation settings."""

    def __init__(self, *args, base_model: str | None = None, dataset_name: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.base_model = base_model
        self.rlpt_dataset_name = dataset_name

    def create_model_card(self, model_name=None, dataset_name=None, tags=None) -> None:
        super().create_model_card(
            model_name=model_name, dataset_name=dataset_name or self.rlpt_dataset_name, tags=tags
        )
        if not self.is_world_process_zero():
            return
        args = self.args
        weights = args.reward_weights or [1.0] * len(self.reward_func_names)
        # RLOO has no loss type: its loss is the REINFORCE leave-one-out one
        loss = f", loss `{args.loss_type}`" if hasattr(args, "loss_type") else ""
        lines = [
            "",
            "",
            f"## rlpt_trl {type(self).__name__.removeprefix('RLPT').removesuffix('Trainer')} run",
            "",
            f"- base model: `{self.base_model}`",
            f"- dataset: `{dataset_name or self.rlpt_dataset_name}`",
            "- reward functions (weight): "
            + ", ".join(
                f"`{name}` ({weight:g})" for name, weight in zip(self.reward_func_names, weights, strict=True)
            ),
            f"- learning rate {args.learning_rate:g}, {args.max_steps if args.max_steps > 0 else args.num_train_epochs}"
            f" {'steps' if args.max_steps > 0 else 'epochs'}, {args.per_device_train_batch_size} completions per"
            f" device batch, {args.num_generations} generations per prompt, max {args.max_completion_length}"
            f" new tokens, temperature {args.temperature:g}, ratio clip {args.epsilon:g}, beta {args.beta:g}{loss}",
            "",
        ]
        with open(Path(args.output_dir) / "README.md", "a", encoding="utf-8") as card:
            card.write("\n".join(lines))


class RLPTGRPOTrainer(
    RewardModelCard, ResumablePromptOrder, DynamicSampling, SkipZeroAdvantageRows, SharedPromptForward, GRPOTrainer
):
    """`trl.GRPOTrainer` with the run's rewards and settings in its model card, a prompt order that resume restores,
    DAPO's dynamic sampling on request (`dynamic_sampling`), and, where that is exact, the completions of zero
    advantage left out of the policy's forward pass (`skip_zero_advantage`) and each prompt computed once for its
    group (`shared_prompt`)."""


class RLPTRLOOTrainer(RewardModelCard, ResumablePromptOrder, RLOOTrainer):
    """`trl.RLOOTrainer` with the run's rewards and settings in its model card, and a prompt order that resume
    restores."""
