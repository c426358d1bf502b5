"""`skip_zero_advantage`: GRPO without forwarding the completions of zero advantage trains exactly as stock TRL (fp32
losses and weights after 3 steps within 1e-5), for each loss type it applies to, groups of 2 and 4, completions of 1
and 4 tokens, in one process and in 2-process DDP; the settings where it cannot apply fall back to stock TRL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from grpo_exactness import PROMPTS, parity_reward, train
from safetensors.torch import load_file
from training_checks import free_port
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig

from rlpt_trl.trainer.model_card import RLPTGRPOTrainer
from rlpt_trl.trainer.zero_advantage import kept_rows


TOLERANCE = 1e-5


def assert_same_run(stock: dict, skipping: dict, stock_weights: dict, skipping_weights: dict) -> None:
    """Both runs saw the same groups (some with all-equal rewards, some not) and ended with the same losses and weights,
    the skipping one having left rows out."""
    assert skipping["zero_std"] == stock["zero_std"] and 0 < sum(stock["zero_std"]) < len(stock["zero_std"])
    assert stock["skipped"] == 0 and skipping["skipped"] > 0
    assert skipping["losses"] == pytest.approx(stock["losses"], abs=TOLERANCE)
    # on-policy, the loss is about 0 whatever the gradient: the gradient's norm is compared too
    assert skipping["grad_norms"] == pytest.approx(stock["grad_norms"], abs=TOLERANCE)
    assert sum(stock["grad_norms"]) > 0.1
    for name, tensor in stock_weights.items():
        torch.testing.assert_close(skipping_weights[name], tensor, atol=TOLERANCE, rtol=0, msg=name)


@pytest.mark.parametrize(
    ("loss_type", "num_generations", "completion_length"),
    [("grpo", 2, 1), ("grpo", 4, 4), ("dapo", 2, 4), ("dapo", 4, 1), ("dr_grpo", 2, 1), ("dr_grpo", 4, 4),
     ("bnpo", 2, 4), ("bnpo", 4, 1)],
)  # fmt: skip
def test_skipping_trains_as_stock_trl(
    tiny_model_dir: Path, tmp_path: Path, loss_type, num_generations, completion_length
):
    case = {"loss_type": loss_type, "num_generations": num_generations, "completion_length": completion_length}
    stock, stock_weights = train(str(tiny_model_dir), str(tmp_path / "stock"), skip=False, **case)
    skipping, skipping_weights = train(str(tiny_model_dir), str(tmp_path / "skip"), skip=True, **case)
    assert_same_run(stock, skipping, stock_weights, skipping_weights)
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    assert any(not torch.equal(start[name], tensor) for name, tensor in stock_weights.items())  # it trained


def test_skipping_in_ddp_trains_as_stock_trl(tiny_model_dir: Path, tmp_path: Path):
    """Two processes, each with its own number of informative rows (each forwards the larger count)."""
    cases = [
        {"skip": skip, "loss_type": loss_type, "num_generations": 4, "completion_length": length}
        for loss_type, length in (("grpo", 1), ("bnpo", 4), ("dapo", 1), ("dr_grpo", 4))
        for skip in (False, True)
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = Path(__file__).with_name("grpo_exactness.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(free_port()), str(script), str(tiny_model_dir), str(tmp_path / "cases.json"),
               str(tmp_path)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for index in range(0, len(cases), 2):
        runs = [json.loads((tmp_path / f"case{i}.json").read_text()) for i in (index, index + 1)]
        weights = [load_file(tmp_path / f"case{i}.safetensors") for i in (index, index + 1)]
        assert_same_run(runs[0], runs[1], *weights)


def test_kept_rows_are_the_informative_ones_then_filler():
    informative = torch.tensor([False, True, False, False, True, False])
    assert kept_rows(informative, 2).tolist() == [1, 4]
    assert kept_rows(informative, 4).tolist() == [0, 1, 2, 4]  # filled with the first uninformative rows
    assert kept_rows(torch.zeros(3, dtype=torch.bool), 1).tolist() == [0]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [({"beta": 0.04}, "beta 0.04"), ({"loss_type": "sapo"}, "loss_type sapo"),
     ({"top_entropy_quantile": 0.5}, "top_entropy_quantile")],
)  # fmt: skip
def test_settings_that_read_every_row_fall_back_to_stock(
    tiny_model_dir: Path, tmp_path: Path, caplog, settings, reason
):
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                        max_completion_length=1, bf16=False, use_cpu=True, report_to=[], **settings)  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with caplog.at_level("WARNING"):
        trainer = RLPTGRPOTrainer(
            model=model, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left"),
            reward_funcs=[parity_reward], args=config, train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
            skip_zero_advantage=True,
        )  # fmt: skip
    assert not trainer.skip_zero_advantage
    assert f"skip_zero_advantage: every completion is forwarded, because of {reason}" in caplog.text
