"""GRPO on CoLA prompt / completion pairs with rlpt_trl's perplexity and embedding-cosine rewards.

    accelerate launch --config_file accelerate_configs/cpu.yaml recipes/grpo.py --config recipes/quickstart/grpo.yaml

Every flag of `GRPOScriptArguments`, `trl.GRPOConfig` and `trl.ModelConfig` works in the YAML or on the command
line (the command line wins). `--model_name_or_path` takes a Hub id, a local directory or a `.gguf` file.
"""

import sys

from trl import GRPOConfig, ModelConfig, TrlParser, get_peft_config

from rlpt_trl.checkpoints import GracefulStopCallback, resolve_resume_checkpoint
from rlpt_trl.cli import run_recipe
from rlpt_trl.evaluation.callback import GlueEvalCallbackArguments, glue_eval_callback
from rlpt_trl.grpo import (
    CompletionSamplesCallback,
    GRPOScriptArguments,
    RLPTGRPOTrainer,
    check_grpo_setup,
    load_prompt_dataset,
    reward_config,
)
from rlpt_trl.devices import trainer_bf16_default
from rlpt_trl.modeling import load_model_and_tokenizer
from rlpt_trl.rewards import get_reward_funcs


def main(
    script_args: GRPOScriptArguments,
    training_args: GRPOConfig,
    model_args: ModelConfig,
    eval_args: GlueEvalCallbackArguments,
) -> int:
    # everything that can be wrong with the configuration is checked before a model loads
    dataset = load_prompt_dataset(script_args)
    policy = model_args.model_name_or_path
    reward_funcs = get_reward_funcs(script_args.reward_funcs, **reward_config(script_args, training_args, policy))
    check_grpo_setup(script_args, training_args, dataset, reward_funcs)
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    model, tokenizer = load_model_and_tokenizer(
        policy, dtype=model_args.dtype or "auto", device=None, trust_remote_code=training_args.trust_remote_code
    )
    trainer = RLPTGRPOTrainer(
        model=model,
        processing_class=tokenizer,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        base_model=policy,
        dataset_name=script_args.dataset_name,
    )
    stop = GracefulStopCallback()
    trainer.add_callback(stop)
    trainer.add_callback(CompletionSamplesCallback(trainer))
    if (glue_eval := glue_eval_callback(trainer, eval_args)) is not None:
        trainer.add_callback(glue_eval)
    trainer.train(resume_from_checkpoint=resume)
    if stop.requested is not None:
        trainer.accelerator.print(
            f"Interrupted at step {trainer.state.global_step}; checkpoint saved in {training_args.output_dir}. "
            "Continue with --resume_from_checkpoint true."
        )
        trainer.end()
        return 128 + stop.requested

    if training_args.push_to_hub:
        # saves the model and its card into output_dir, then uploads them in one commit
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
        trainer.accelerator.print(f"Model saved to {training_args.output_dir}, pushed as {trainer.hub_model_id}.")
    else:
        trainer.save_model(training_args.output_dir)
        trainer.create_model_card()
        trainer.accelerator.print(f"Model saved to {training_args.output_dir}.")
    trainer.end()
    return 0


def make_parser() -> TrlParser:
    parser = TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig, GlueEvalCallbackArguments))
    parser.set_defaults(bf16=trainer_bf16_default())
    return parser


if __name__ == "__main__":
    sys.exit(run_recipe("grpo.py", make_parser(), main))
