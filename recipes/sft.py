"""Supervised fine-tuning baseline on CoLA with `trl.SFTTrainer`.

    python recipes/sft.py --config recipes/smollm-135m/sft.yaml
    python recipes/sft.py --config recipes/smollm-135m/sft.yaml --data_dir GLUE_ROOT --model_name_or_path MODEL.gguf

Every flag of `rlpt_trl.sft.SFTScriptArguments`, `trl.SFTConfig` and `trl.ModelConfig` works in the YAML or on the
command line (the command line wins); `--use_peft --lora_r 16 ...` trains LoRA adapters. `--model_name_or_path`
takes a Hub id, a local directory or a `.gguf` file; the output is always a Hugging Face model directory.
"""

import sys
from pathlib import Path

from peft import PeftModel
from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser, get_peft_config

from rlpt_trl.checkpoints import resolve_resume_checkpoint
from rlpt_trl.cli import run_recipe
from rlpt_trl.evaluation.callback import GlueEvalCallbackArguments, glue_eval_callback
from rlpt_trl.data.glue import GLUE_HUB_ID
from rlpt_trl.errors import RlptError
from rlpt_trl.devices import trainer_bf16_default
from rlpt_trl.modeling import load_model_and_tokenizer
from rlpt_trl.sft import SFTScriptArguments, check_sft_arguments, load_sft_datasets


TAGS = ["rlpt_trl", "cola"]


def main(
    script_args: SFTScriptArguments,
    training_args: SFTConfig,
    model_args: ModelConfig,
    eval_args: GlueEvalCallbackArguments,
) -> None:
    # configuration and data problems surface before a model loads
    if not model_args.model_name_or_path:
        raise RlptError("--model_name_or_path is required (Hub id, local directory or .gguf file)")
    check_sft_arguments(script_args)
    train_dataset, eval_dataset = load_sft_datasets(script_args)
    resume = resolve_resume_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)

    model, tokenizer = load_model_and_tokenizer(
        model_args.model_name_or_path,
        dtype=model_args.dtype or "auto",
        device=None,
        padding_side="right",
        trust_remote_code=training_args.trust_remote_code,
    )
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset if training_args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    if (glue_eval := glue_eval_callback(trainer, eval_args)) is not None:
        trainer.add_callback(glue_eval)
    trainer.train(resume_from_checkpoint=resume)

    if script_args.merge_adapter and isinstance(trainer.model, PeftModel):
        trainer.model = trainer.model.merge_and_unload()
    if training_args.push_to_hub:
        # saves the model and its card into output_dir, then uploads them in one commit
        trainer.push_to_hub(dataset_name=GLUE_HUB_ID, tags=TAGS)
        trainer.accelerator.print(f"Model saved to {training_args.output_dir}, pushed as {trainer.hub_model_id}.")
    else:
        trainer.save_model(training_args.output_dir)
        trainer.create_model_card(model_name=Path(training_args.output_dir).name, dataset_name=GLUE_HUB_ID, tags=TAGS)
        trainer.accelerator.print(f"Model saved to {training_args.output_dir}.")
    trainer.end()


def make_parser() -> TrlParser:
    parser = TrlParser((SFTScriptArguments, SFTConfig, ModelConfig, GlueEvalCallbackArguments))
    parser.set_defaults(bf16=trainer_bf16_default())
    return parser


if __name__ == "__main__":
    sys.exit(run_recipe("sft.py", make_parser(), main))
