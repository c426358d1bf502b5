"""`dynamic_sampling` (DAPO's): groups of all-equal rewards are dropped and new prompts drawn until a step has its
informative groups, or its rounds run out; every round's passes are counted; where nothing is dropped the run is stock
TRL's; settings that would change the kept groups' advantages are refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from grpo_exactness import PROMPTS, run_in_ddp, spread_reward, train
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig

from rlpt_trl.cli import run_command
from rlpt_trl.trainer.dynamic_sampling import (
    check_dynamic_sampling,
    informative_groups,
    merge_batches,
    resample_indices,
    select_groups,
)
from rlpt_trl.trainer.model_card import RLPTGRPOTrainer
from rlpt_trl.utils.errors import RlptError


def test_informative_groups_are_those_whose_weighted_rewards_differ():
    nan = float("nan")
    # groups of 2; two reward functions weighted 1 and 0.5
    rewards = torch.tensor(
        [[1.0, 0.0], [1.0, 0.0],  # equal
         [1.0, 0.0], [0.0, 2.0],  # 1 and 1 once weighted: equal
         [1.0, nan], [0.0, nan],  # differ on the first function
         [nan, nan], [nan, nan],  # unscored
         [0.0, 1.0], [0.0, 0.0]]  # differ
    )  # fmt: skip
    flags = informative_groups(rewards, torch.tensor([1.0, 0.5]), group_size=2)
    assert flags.tolist() == [False, False, True, False, True]


def test_selection_keeps_informative_groups_in_drawing_order_then_first_round_filler():
    rounds = [torch.tensor([False, True, False]), torch.tensor([True, True, False])]
    assert select_groups(rounds, 3) == [(0, 1), (1, 0), (1, 1)]
    assert select_groups(rounds, 2) == [(0, 1), (1, 0)]
    starved = [torch.tensor([False, False, True]), torch.tensor([False, False, False])]
    assert select_groups(starved, 3) == [(0, 2), (0, 0), (0, 1)]


def test_merged_batch_pads_prompts_left_and_completions_right():
    pad = 9
    first = {
        "prompt_ids": torch.tensor([[5, 6], [5, 6], [7, 8], [7, 8]]),
        "prompt_mask": torch.ones(4, 2, dtype=torch.long),
        "completion_ids": torch.tensor([[1, 2, 3]] * 4),
        "completion_mask": torch.ones(4, 3, dtype=torch.long),
        "advantages": torch.tensor([0.0, 0.0, 1.0, -1.0]),
        "num_items_in_batch": torch.tensor(12),
    }
    second = {
        "prompt_ids": torch.tensor([[pad, 4, 4], [pad, 4, 4], [3, 3, 3], [3, 3, 3]]),
        "prompt_mask": torch.tensor([[0, 1, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]]),
        "completion_ids": torch.tensor([[1], [2], [1], [2]]),
        "completion_mask": torch.ones(4, 1, dtype=torch.long),
        "advantages": torch.tensor([1.0, -1.0, 0.0, 0.0]),
        "num_items_in_batch": torch.tensor(4),
    }
    merged = merge_batches([first, second], [(1, 0), (0, 1)], group_size=2, pad_token_id=pad)
    assert "num_items_in_batch" not in merged
    assert merged["prompt_ids"].tolist() == [[pad, 4, 4], [pad, 4, 4], [pad, 7, 8], [pad, 7, 8]]
    assert merged["prompt_mask"].tolist() == [[0, 1, 1], [0, 1, 1], [0, 1, 1], [0, 1, 1]]
    assert merged["completion_ids"].tolist() == [[1, pad, pad], [2, pad, pad], [1, 2, 3], [1, 2, 3]]
    assert merged["completion_mask"].tolist() == [[1, 0, 0], [1, 0, 0], [1, 1, 1], [1, 1, 1]]
    assert merged["advantages"].tolist() == [1.0, -1.0, 1.0, -1.0]


def test_resampled_rows_are_a_function_of_seed_step_round_and_process():
    rows = resample_indices(100, 8, seed=0, step=3, round_=1, process=0)
    assert len(set(rows.tolist())) == 8 and rows.max() < 100
    np.testing.assert_array_equal(rows, resample_indices(100, 8, seed=0, step=3, round_=1, process=0))
    others = [resample_indices(100, 8, **{"seed": 0, "step": 3, "round_": 1, "process": 0, key: 2})
              for key in ("seed", "step", "round_", "process")]  # fmt: skip
    assert all(not np.array_equal(rows, other) for other in others)
    # a set smaller than a round still gives the round its rows
    assert len(resample_indices(3, 8, seed=0, step=0, round_=1, process=0)) == 8


@pytest.mark.parametrize(
    ("settings", "rounds", "message"),
    [
        ({"scale_rewards": "batch"}, 10, "needs scale_rewards group or none"),
        ({"multi_objective_aggregation": "normalize_then_sum"}, 10, "needs multi_objective_aggregation"),
        ({"per_device_train_batch_size": 6, "num_generations": 4}, 10, "= 6) to be whole groups of num_generations 4"),
        ({}, -1, "--max_resample_rounds must be >= 0, got -1"),
    ],
)
def test_settings_that_would_change_the_kept_advantages_are_refused(settings, rounds, message, tmp_path: Path):
    config = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, num_generations=2)
    # set after TRL's own checks: one process of two may hold part of a group
    for name, value in settings.items():
        setattr(config, name, value)
    with pytest.raises(RlptError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_dynamic_sampling(config, rounds)


def test_cli_refuses_them_before_loading_a_model(tmp_path: Path, tiny_cola_data: Path, capsys):
    args = ["--model_name_or_path", "nobody/no-such-model", "--dataset_name", str(tiny_cola_data),
            "--output_dir", str(tmp_path / "out"), "--dynamic_sampling", "true", "--scale_rewards", "batch"]  # fmt: skip
    assert run_command("grpo", args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlpt-trl grpo: error: --dynamic_sampling needs scale_rewards group")
    assert not (tmp_path / "out").exists()


def test_an_iterable_training_set_is_refused(tiny_model_dir: Path, tmp_path: Path):
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2, max_steps=1,
                        use_cpu=True, bf16=False, activation_checkpointing=False, report_to=[])  # fmt: skip
    with pytest.raises(RlptError, match="--dynamic_sampling does not support an iterable training set"):
        RLPTGRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            processing_class=AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left"),
            reward_funcs=[spread_reward], args=config, dynamic_sampling=True,
            train_dataset=Dataset.from_dict({"prompt": PROMPTS}).to_iterable_dataset(),
        )  # fmt: skip


def test_steps_train_on_informative_groups_drawn_over_rounds(tiny_model_dir: Path, tmp_path: Path):
    """Stock TRL trains on groups of all-equal rewards (rows left out by skip_zero_advantage); with dynamic sampling
    every step's 4 groups are informative, found over more than one round, whose passes the FLOP count includes."""
    case = {"loss_type": "grpo", "num_generations": 2, "completion_length": 4, "skip": True, "shared": True}
    stock, _ = train(str(tiny_model_dir), str(tmp_path / "stock"), **case)
    dynamic, _ = train(str(tiny_model_dir), str(tmp_path / "dynamic"), dynamic_sampling=True, **case)
    assert stock["skipped"] > 0 and stock["rounds"] == [None] * 3
    assert dynamic["groups_kept"] == [4.0] * 3 and dynamic["skipped"] == 0
    assert max(dynamic["rounds"]) > 1
    assert dynamic["groups_drawn"] == [4.0 * rounds for rounds in dynamic["rounds"]]
    # each extra round generated, scored and read its completions
    assert dynamic["read_tokens"] > stock["read_tokens"]


def test_a_step_out_of_rounds_trains_on_what_it_has(tiny_model_dir: Path, tmp_path: Path):
    case = {"loss_type": "grpo", "num_generations": 2, "completion_length": 1, "skip": True, "shared": True}
    run, _ = train(str(tiny_model_dir), str(tmp_path / "run"), dynamic_sampling=True, max_resample_rounds=2,
                   reward="constant", **case)  # fmt: skip
    assert run["rounds"] == [3.0] * 3 and run["groups_drawn"] == [12.0] * 3 and run["groups_kept"] == [0.0] * 3
    assert run["losses"] == [0.0] * 3 and run["grad_norms"] == [0.0] * 3


def test_nothing_to_drop_trains_as_stock_trl(tiny_model_dir: Path, tmp_path: Path):
    case = {"loss_type": "dapo", "num_generations": 4, "completion_length": 4, "skip": False, "reward": "spread"}
    stock, stock_weights = train(str(tiny_model_dir), str(tmp_path / "stock"), **case)
    dynamic, weights = train(str(tiny_model_dir), str(tmp_path / "dynamic"), dynamic_sampling=True, **case)
    assert dynamic["rounds"] == [1.0] * 3 and dynamic["groups_kept"] == [2.0] * 3
    assert dynamic["losses"] == stock["losses"] and dynamic["grad_norms"] == stock["grad_norms"]
    for name, tensor in stock_weights.items():
        torch.testing.assert_close(weights[name], tensor, atol=0, rtol=0, msg=name)


def test_ddp_processes_draw_rounds_together(tiny_model_dir: Path, tmp_path: Path):
    """Two processes, each filling its own groups: a process already full draws along until the other is."""
    cases = [{"skip": True, "shared": True, "loss_type": "grpo", "num_generations": 4, "completion_length": 4,
              "dynamic_sampling": True}]  # fmt: skip
    ((run, weights),) = run_in_ddp(tiny_model_dir, cases, tmp_path)
    assert run["groups_kept"] == [4.0] * 3 and run["skipped"] == 0
    assert run["groups_drawn"] == [4.0 * rounds for rounds in run["rounds"]] and max(run["rounds"]) > 1
    assert weights
