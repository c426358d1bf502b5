"""fp32 against bf16 on this machine's CPU: SFT and GRPO seconds per step, CoLA evaluation examples/s, and how many
CoLA predictions bf16 changes, with the real SmolLM2-135M.

    python benchmarks/cpu_precision.py [--model_name_or_path MODEL] [--data_dir GLUE_ROOT] [--steps 6] [--rounds 2]

Each measurement runs in fp32 and in bf16 (`--rounds` times, alternating, so that a shared machine's changing load hits
both alike) and prints the medians and the fp32 / bf16 ratio, with what `rlpt_trl.models.devices` picks here by default:

- SFT: `trl.SFTTrainer` on CoLA train as the SFT recipe builds it, 16 rows a step, bf16 = autocast around fp32
  weights (the trainer's `bf16` flag), activation checkpointing off; median step time after the first step;
- GRPO: `trl.GRPOTrainer`, 8 prompts x 4 completions of 4 tokens a step, `prefix_match_reward` (no reward model,
  so the policy's own cost is measured), bf16 autocast, activation checkpointing off;
- evaluation: CoLA dev (1043 sentences) by log-likelihood with the model loaded in each dtype; the predictions of
  the two dtypes are compared.

`--model_name_or_path` defaults to an HF folder imported once from $RLPT_TEST_GGUF, `--data_dir` to $RLPT_GLUE_DIR.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.data.glue import load_glue  # noqa: E402
from rlpt_trl.data.sft_pairs import DEFAULT_LABEL_WORDS, DEFAULT_PROMPT_TEMPLATE, cola_prompt_completion  # noqa: E402
from rlpt_trl.evaluation.glue import build_task_prompts, get_task, predict_from_scores, score_continuations  # noqa: E402
from rlpt_trl.models.devices import evaluation_dtype, native_bf16, trainer_precision_defaults  # noqa: E402
from rlpt_trl.models.loading import import_gguf, load_model_and_tokenizer  # noqa: E402
from rlpt_trl.rewards import get_prefix_match_reward  # noqa: E402
from rlpt_trl.testing.assets import GGUF_ENV, GLUE_DIR_ENV  # noqa: E402
from rlpt_trl.utils.errors import RlptError  # noqa: E402


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


class StepTimes(TrainerCallback):
    """Wall seconds of each optimizer step."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._start)


def common_config(output_dir: str, bf16: bool, steps: int) -> dict:
    return dict(
        output_dir=output_dir,
        use_cpu=True,
        bf16=bf16,
        max_steps=steps,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=steps,
        disable_tqdm=True,
        seed=0,
    )


def sft_step_seconds(model_path: str, data_dir: str, bf16: bool, steps: int) -> float:
    """Median SFT step time after the first step."""
    from trl import SFTConfig, SFTTrainer

    rows = cola_prompt_completion(
        load_glue("cola", "train", data_dir).select(range(16 * steps)), DEFAULT_PROMPT_TEMPLATE, DEFAULT_LABEL_WORDS
    )
    model, tokenizer = load_model_and_tokenizer(model_path, dtype="float32", device="cpu")
    times = StepTimes()
    with tempfile.TemporaryDirectory() as output:
        config = SFTConfig(**common_config(output, bf16, steps), per_device_train_batch_size=16, max_length=128)
        SFTTrainer(model=model, processing_class=tokenizer, args=config, train_dataset=rows, callbacks=[times]).train()
    return statistics.median(times.seconds[1:])


def grpo_step_seconds(model_path: str, data_dir: str, bf16: bool, steps: int) -> float:
    """Median GRPO step time after the first step."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    # sentences of 5+ words: the first three prompt the rest
    texts = [text for text in load_glue("cola", "train", data_dir)["sentence"] if len(text.split()) > 4][: 8 * steps]
    rows = Dataset.from_dict({"prompt": [" ".join(t.split()[:3]) for t in texts], "text": texts})
    model, tokenizer = load_model_and_tokenizer(model_path, dtype="float32", device="cpu")
    times = StepTimes()
    with tempfile.TemporaryDirectory() as output:
        config = GRPOConfig(
            **common_config(output, bf16, steps),
            per_device_train_batch_size=32,
            num_generations=4,
            max_completion_length=4,
            temperature=0.9,
            beta=0.0,
        )
        trainer = GRPOTrainer(
            model=model,
            processing_class=tokenizer,
            reward_funcs=[get_prefix_match_reward()],
            args=config,
            train_dataset=rows,
            callbacks=[times],
        )
        trainer.train()
    return statistics.median(times.seconds[1:])


def cola_eval(model_path: str, data_dir: str, dtype: torch.dtype) -> tuple[float, np.ndarray]:
    """CoLA dev examples/s by log-likelihood in `dtype`, and the predictions."""
    task = build_task_prompts(get_task("cola"), data_dir=data_dir)
    model, tokenizer = load_model_and_tokenizer(model_path, dtype=dtype, device="cpu", padding_side="right")
    start = time.perf_counter()
    scores = score_continuations(model, tokenizer, task.prompts, task.spec.choices, batch_size=32)
    return len(task.prompts) / (time.perf_counter() - start), predict_from_scores(task.spec, scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_name_or_path", help="SmolLM2-135M(-Instruct) HF folder (default: imported GGUF)")
    parser.add_argument("--data_dir", default=os.environ.get(GLUE_DIR_ENV))
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps a training measurement")
    parser.add_argument("--rounds", type=int, default=2, help="fp32 / bf16 alternations")
    args = parser.parse_args()
    if not args.data_dir:
        raise RlptError(f"--data_dir is required (or set {GLUE_DIR_ENV})")
    if args.steps < 2 or args.rounds < 1:
        raise RlptError("--steps must be >= 2 and --rounds >= 1")
    with tempfile.TemporaryDirectory() as scratch:
        model_path = args.model_name_or_path
        if model_path is None:
            gguf = os.environ.get(GGUF_ENV)
            if not gguf:
                raise RlptError(f"--model_name_or_path is required (or set {GGUF_ENV})")
            model_path = str(import_gguf(gguf, Path(scratch) / "smollm2"))
        run(args, model_path)


def run(args: argparse.Namespace, model_path: str) -> None:
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, AVX-512 BF16 {torch.cpu._is_avx512_bf16_supported()}, "
        f"AMX {torch.cpu._is_amx_tile_supported()}; native bf16: {native_bf16('cpu')}; defaults here: evaluation "
        f"{evaluation_dtype('auto', torch.device('cpu'))}, trainer {trainer_precision_defaults()}"
    )
    measured: dict[str, dict[str, list[float]]] = {"sft": {}, "grpo": {}, "eval": {}}
    predictions = {}
    for _ in range(args.rounds):
        for name, dtype in DTYPES.items():
            bf16 = dtype == torch.bfloat16
            measured["sft"].setdefault(name, []).append(sft_step_seconds(model_path, args.data_dir, bf16, args.steps))
            measured["grpo"].setdefault(name, []).append(
                grpo_step_seconds(model_path, args.data_dir, bf16, args.steps)
            )
            speed, predictions[name] = cola_eval(model_path, args.data_dir, dtype)
            measured["eval"].setdefault(name, []).append(speed)
            print(f"  {name}: " + ", ".join(f"{part} {values[name][-1]:.2f}" for part, values in measured.items()))
    for part, values in measured.items():
        fp32, bf16 = statistics.median(values["fp32"]), statistics.median(values["bf16"])
        # seconds a step shrink, examples a second grow
        speedup = bf16 / fp32 if part == "eval" else fp32 / bf16
        unit = "CoLA dev examples/s" if part == "eval" else "s/step"
        print(f"{part}: fp32 {fp32:.2f}, bf16 {bf16:.2f} {unit}; bf16 is {speedup:.2f}x as fast")
    changed = int((predictions["fp32"] != predictions["bf16"]).sum())
    print(f"bf16 changes {changed} of {len(predictions['fp32'])} CoLA predictions")


if __name__ == "__main__":
    sys.exit(run_with_errors("cpu_precision.py", main))
