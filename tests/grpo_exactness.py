"""GRPO runs of the tiny model for the exactness tests of `skip_zero_advantage`: in the test's process, or under
`torchrun --nproc_per_node 2` (DDP on the CPU) as `grpo_exactness.py MODEL_DIR CASES_JSON OUTPUT_DIR`, where each case
is the keywords of `train` and rank 0 writes each case's result to OUTPUT_DIR/case{i}.json and .safetensors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from datasets import Dataset
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig

from rlpt_trl.trainer.flops import FlopCounter
from rlpt_trl.trainer.model_card import RLPTGRPOTrainer


PROMPTS = [
    "The cat sat", "A dog ran home", "Birds sing", "We read books all day", "The sun rose", "Rain fell hard",
    "She wrote a letter", "Time flies", "He cooked rice", "Snow covers the hills", "They left early", "Ice melts",
]  # fmt: skip


def parity_reward(prompts: list[str], completions: list[str], **kwargs) -> list[float]:
    """0 for every completion of a prompt of odd length (its group has all-equal rewards), else the completion's
    length mod 3 (groups with and without a spread)."""
    pairs = zip(prompts, completions, strict=True)
    return [0.0 if len(prompt) % 2 else float(len(completion) % 3) for prompt, completion in pairs]


def spread_reward(completions: list[str], **kwargs) -> list[float]:
    """Each completion's place in its process's batch: no group has all-equal rewards."""
    return [float(index) for index in range(len(completions))]


def constant_reward(completions: list[str], **kwargs) -> list[float]:
    """1 for every completion: every group has all-equal rewards."""
    return [1.0] * len(completions)


REWARDS = {"parity": parity_reward, "spread": spread_reward, "constant": constant_reward}


def train(
    model_dir: str,
    output_dir: str,
    *,
    skip: bool,
    loss_type: str,
    num_generations: int,
    completion_length: int,
    shared: bool = False,
    dynamic_sampling: bool = False,
    max_resample_rounds: int = 10,
    reward: str = "parity",
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Three fp32 steps of 8 completions a process from `model_dir`, plain SGD at learning rate 1, so that two runs'
    weights differ by exactly their gradients' difference (Adam would divide a gradient entry at rounding level, which
    GRPO's advantages summing to 0 within a group make common, by its own size): each step's logged loss and gradient norm, the
    share of groups with all-equal rewards, the completions left out of the forward pass, the tokens of the policy's
    training passes and of its other passes (generation; this process's), dynamic sampling's rounds, groups drawn and
    groups kept, and the trained weights."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    config = GRPOConfig(
        output_dir=output_dir, per_device_train_batch_size=8, num_generations=num_generations,
        max_completion_length=completion_length, max_steps=3, optim="sgd", learning_rate=1.0, beta=0.0, loss_type=loss_type,
        bf16=False, activation_checkpointing=False, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no",
        seed=0, temperature=0.7, disable_tqdm=True,
    )  # fmt: skip
    trainer = RLPTGRPOTrainer(
        model=model, processing_class=tokenizer, reward_funcs=[REWARDS[reward]], args=config,
        train_dataset=Dataset.from_dict({"prompt": PROMPTS}), skip_zero_advantage=skip, shared_prompt=shared,
        dynamic_sampling=dynamic_sampling, max_resample_rounds=max_resample_rounds,
    )  # fmt: skip
    counter = FlopCounter()
    counter.watch("policy", trainer.model)
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry and "frac_reward_zero_std" in entry]
    result = {
        "losses": [entry["loss"] for entry in logged],
        "grad_norms": [entry["grad_norm"] for entry in logged],
        "zero_std": [entry["frac_reward_zero_std"] for entry in logged],
        "skipped": trainer.skipped_rows,
        "trained_tokens": counter.tokens["policy"]["train"],
        "read_tokens": counter.tokens["policy"]["read"],
        **{
            name: [entry.get(f"dynamic_sampling/{name}") for entry in logged]
            for name in ("rounds", "groups_drawn", "groups_kept")
        },
    }
    weights = {name: tensor.detach().clone().contiguous() for name, tensor in trainer.model.state_dict().items()}
    return result, weights


def run_in_ddp(model_dir: Path, cases: list[dict], folder: Path) -> list[tuple[dict, dict[str, torch.Tensor]]]:
    """Each case's `train` under `torchrun --nproc_per_node 2` on the CPU: rank 0's result and weights, by case."""
    import os
    import subprocess

    from safetensors.torch import load_file
    from training_checks import free_port

    (folder / "cases.json").write_text(json.dumps(cases))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), __file__, str(model_dir), str(folder / "cases.json"), str(folder)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return [
        (json.loads((folder / f"case{i}.json").read_text()), load_file(folder / f"case{i}.safetensors"))
        for i in range(len(cases))
    ]


def main(model_dir: str, cases_json: str, output_dir: str) -> None:
    from accelerate import PartialState
    from accelerate.utils import gather

    state = PartialState(cpu=True)
    for index, case in enumerate(json.loads(Path(cases_json).read_text())):
        result, weights = train(model_dir, str(Path(output_dir) / f"run{index}"), **case)
        result["skipped"] = int(gather(torch.tensor([result["skipped"]])).sum())  # over the processes
        if state.is_main_process:
            Path(output_dir, f"case{index}.json").write_text(json.dumps(result))
            save_file(weights, str(Path(output_dir, f"case{index}.safetensors")))
    # a gloo group still alive at interpreter exit can abort the process after the work is done
    state.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
