"""GRPO's cost per step, stock TRL against each prompt computed once per group and zero-advantage rows skipped.

    python benchmarks/grpo_speed.py --cola_data DATA_DIR --pydocs_data DATA_DIR [--model_name_or_path MODEL]
        [--steps 6] [--repeats 2] [--settings cola:4:1 pydocs:4:1 pydocs:16:1 pydocs:4:4]

SmolLM2-135M-Instruct (default: the GGUF file $RLPT_TEST_GGUF) in fp32 on the CPU, RPT's reward
(`rpt_prefix_reward`), `rlpt_trl.trainer.model_card.RLPTGRPOTrainer` with the CPU recipes' settings (lr 2e-5,
beta 0, loss grpo, temperature 0.9, no activation checkpointing). Each setting SHAPE:K:TOKENS trains `--steps` steps
of K completions of TOKENS new tokens on 8 prompts a step (CoLA cuts, prompts of about 5 tokens: `--cola_data`, a
`rlpt-trl data` folder) or 4 (RLPT's next-sentence rows of the Python documentation, prompts of up to 128 tokens:
`--pydocs_data`, `rlpt-trl data --task asr --max_prompt_tokens 128`), stock (`shared_prompt` and
`skip_zero_advantage` off) and shared (both on) alternated `--repeats` times from the same weights, seed and prompts.
Per run: the median of TRL's `step_time` (generation, rewards, loss and backward; not the optimizer's update) over
the steps after the first, the whole run's `train_runtime`, and the FLOPs the run's counter charged the policy per
step (`rlpt_trl.trainer.flops`: what was computed). Prints one table and, with `--output_json`, writes its numbers
after each setting.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from trl import GRPOConfig  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.data.prompt_dataset import load_prompt_dataset  # noqa: E402
from rlpt_trl.models.loading import load_model_and_tokenizer  # noqa: E402
from rlpt_trl.rewards.rpt_prefix import get_rpt_prefix_reward  # noqa: E402
from rlpt_trl.testing.assets import GGUF_ENV  # noqa: E402
from rlpt_trl.trainer.flops import FlopCounter  # noqa: E402
from rlpt_trl.trainer.model_card import RLPTGRPOTrainer  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402
from rlpt_trl.utils.markdown import format_table  # noqa: E402


PROMPTS_PER_STEP = {"cola": 8, "pydocs": 4}
VARIANTS = {"stock": False, "shared": True}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/grpo_speed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", default=os.environ.get(GGUF_ENV), help=f"default ${GGUF_ENV}")
    parser.add_argument("--cola_data", help="a `rlpt-trl data` folder of CoLA cuts")
    parser.add_argument("--pydocs_data", help="a `rlpt-trl data --task asr` folder of the Python documentation")
    parser.add_argument("--steps", type=int, default=6, help="GRPO steps a run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=2, help="alternated runs of each variant")
    parser.add_argument("--settings", nargs="+", default=["cola:4:1", "pydocs:4:1", "pydocs:16:1", "pydocs:4:4"],
                        help="SHAPE:K:TOKENS, SHAPE cola or pydocs")  # fmt: skip
    parser.add_argument("--output_json", help="also write the table's numbers here")
    return parser.parse_args()


def parse_setting(text: str) -> tuple[str, int, int]:
    """SHAPE:K:TOKENS -> (shape, K, tokens), one error line when malformed."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in PROMPTS_PER_STEP or not all(part.isdigit() for part in parts[1:]):
        raise RlptError(f"--settings {text}: expected SHAPE:K:TOKENS with SHAPE one of {', '.join(PROMPTS_PER_STEP)}")
    return parts[0], int(parts[1]), int(parts[2])


def run(
    model, tokenizer, reward, dataset, *, shared: bool, num_generations: int, tokens: int, prompts: int, steps: int
):
    """One GRPO run from a copy of `model`: its per-step times, its whole time and the policy's counted FLOPs per
    step."""
    with tempfile.TemporaryDirectory() as output:
        config = GRPOConfig(
            output_dir=output, per_device_train_batch_size=prompts * num_generations, num_generations=num_generations,
            max_completion_length=tokens, max_steps=steps, learning_rate=2e-5, lr_scheduler_type="constant",
            beta=0.0, loss_type="grpo", temperature=0.9, activation_checkpointing=False, bf16=False, use_cpu=True,
            report_to=[], logging_steps=1, save_strategy="no", seed=42, disable_tqdm=True,
        )  # fmt: skip
        trainer = RLPTGRPOTrainer(
            model=copy.deepcopy(model), processing_class=tokenizer, reward_funcs=[reward], args=config,
            train_dataset=dataset, shared_prompt=shared, skip_zero_advantage=shared,
        )  # fmt: skip
        counter = FlopCounter()
        counter.watch("policy", trainer.model)
        trainer.train()
    logged = [entry for entry in trainer.state.log_history if "step_time" in entry]
    (summary,) = [entry for entry in trainer.state.log_history if "train_runtime" in entry]
    return {
        "step_seconds": [entry["step_time"] for entry in logged],
        "run_seconds": summary["train_runtime"],
        "zero_std": [entry["frac_reward_zero_std"] for entry in logged],
        "flops_per_step": counter.total / steps,
    }


def main() -> None:
    args = parse_args()
    settings = [parse_setting(text) for text in args.settings]
    folders = {"cola": args.cola_data, "pydocs": args.pydocs_data}
    for shape in {shape for shape, _, _ in settings}:
        if not folders[shape] or not Path(folders[shape]).is_dir():
            raise RlptError(f"--{shape}_data: a data folder is needed for the {shape} settings, got {folders[shape]}")
    if not args.model_name_or_path:
        raise RlptError(f"--model_name_or_path is required (or set {GGUF_ENV})")
    torch.manual_seed(0)
    model, tokenizer = load_model_and_tokenizer(args.model_name_or_path, dtype="float32", device="cpu")
    reward = get_rpt_prefix_reward(args.model_name_or_path)
    results = []
    for shape, num_generations, tokens in settings:
        dataset = load_prompt_dataset(folders[shape])
        runs = {name: [] for name in VARIANTS}
        for _ in range(args.repeats):
            for name, shared in VARIANTS.items():
                runs[name].append(run(model, tokenizer, reward, dataset, shared=shared, num_generations=num_generations,
                                      tokens=tokens, prompts=PROMPTS_PER_STEP[shape], steps=args.steps))  # fmt: skip
        timed = {name: statistics.median(s for r in rs for s in r["step_seconds"][1:]) for name, rs in runs.items()}
        flops = {name: statistics.median(r["flops_per_step"] for r in rs) for name, rs in runs.items()}
        results.append({
            "shape": shape, "num_generations": num_generations, "tokens": tokens, "runs": runs,
            "seconds_per_step": timed, "flops_per_step": flops,
            "time_ratio": timed["shared"] / timed["stock"], "flops_ratio": flops["shared"] / flops["stock"],
        })  # fmt: skip
        print(f"{shape} K={num_generations} tokens={tokens}: {timed} s/step, {flops} FLOPs/step", flush=True)
        if args.output_json:  # after each setting: a stopped benchmark keeps what it measured
            Path(args.output_json).write_text(
                json.dumps({"settings": vars(args), "results": results}, indent=1) + "\n"
            )
    rows = [
        [r["shape"], r["num_generations"], r["tokens"], f"{r['seconds_per_step']['stock']:.2f}",
         f"{r['seconds_per_step']['shared']:.2f}", f"{r['time_ratio']:.2f}x", f"{r['flops_per_step']['stock']:.3g}",
         f"{r['flops_per_step']['shared']:.3g}", f"{r['flops_ratio']:.2f}x"]
        for r in results
    ]  # fmt: skip
    header = ["shape", "K", "tokens", "stock s/step", "shared s/step", "time", "stock FLOPs/step",
              "shared FLOPs/step", "FLOPs"]  # fmt: skip
    print(format_table(header, rows))


if __name__ == "__main__":
    sys.exit(run_with_errors("benchmarks/grpo_speed.py", main))
