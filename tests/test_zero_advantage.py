"""`skip_zero_advantage` and `shared_prompt`: GRPO without forwarding the completions of zero advantage, with each
prompt computed once per group, or both, trains exactly as stock TRL (fp32 losses, gradient norms and weights after 3
steps within 1e-5) for each loss type they apply to, groups of 2 and 4, completions of 1 and 4 tokens, in one process
and in 2-process DDP, while computing fewer tokens; the settings where they cannot apply fall back to stock TRL."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from grpo_exactness import PROMPTS, parity_reward, run_in_ddp, train
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig

from rlpt_trl.trainer.flops import FlopCounter
from rlpt_trl.trainer.model_card import RLPTGRPOTrainer
from rlpt_trl.trainer.shared_prompt import shared_prefill
from rlpt_trl.trainer.zero_advantage import kept_rows


TOLERANCE = 1e-5


def assert_same_run(stock: dict, other: dict, stock_weights: dict, other_weights: dict) -> None:
    """Both runs saw the same groups (some with all-equal rewards, some not) and ended with the same losses, gradient
    norms and weights."""
    assert other["zero_std"] == stock["zero_std"] and 0 < sum(stock["zero_std"]) < len(stock["zero_std"])
    assert other["losses"] == pytest.approx(stock["losses"], abs=TOLERANCE)
    # on-policy, the loss is about 0 whatever the gradient: the gradient's norm is compared too
    assert other["grad_norms"] == pytest.approx(stock["grad_norms"], abs=TOLERANCE)
    assert sum(stock["grad_norms"]) > 0.1
    for name, tensor in stock_weights.items():
        torch.testing.assert_close(other_weights[name], tensor, atol=TOLERANCE, rtol=0, msg=name)


# each variant against stock TRL: (skip_zero_advantage, shared_prompt)
VARIANTS = {"skip": (True, False), "shared": (False, True), "both": (True, True)}


def assert_variants_match_stock(runs: dict[str, tuple[dict, dict]]) -> None:
    """Every variant trains as stock TRL, and computes fewer tokens: rows skipped, prompts computed once."""
    stock, stock_weights = runs["stock"]
    assert stock["skipped"] == 0
    for name, (run, weights) in runs.items():
        assert_same_run(stock, run, stock_weights, weights)
        if name != "stock":
            assert run["trained_tokens"] < stock["trained_tokens"], name
        skip, shared = VARIANTS.get(name, (False, False))
        assert (run["skipped"] > 0) == skip, name
        # generation's prefill computes each prompt once too
        assert (run["read_tokens"] < stock["read_tokens"]) == shared, name
    assert runs["both"][0]["trained_tokens"] < runs["skip"][0]["trained_tokens"]


@pytest.mark.parametrize(
    ("loss_type", "num_generations", "completion_length"),
    [("grpo", 2, 1), ("grpo", 4, 4), ("dapo", 2, 4), ("dapo", 4, 1), ("dr_grpo", 2, 1), ("dr_grpo", 4, 4),
     ("bnpo", 2, 4), ("bnpo", 4, 1)],
)  # fmt: skip
def test_variants_train_as_stock_trl(
    tiny_model_dir: Path, tmp_path: Path, loss_type, num_generations, completion_length
):
    case = {"loss_type": loss_type, "num_generations": num_generations, "completion_length": completion_length}
    runs = {
        name: train(str(tiny_model_dir), str(tmp_path / name), skip=skip, shared=shared, **case)
        for name, (skip, shared) in {"stock": (False, False), **VARIANTS}.items()
    }
    assert_variants_match_stock(runs)
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    assert any(not torch.equal(start[name], tensor) for name, tensor in runs["stock"][1].items())  # it trained


def test_variants_in_ddp_train_as_stock_trl(tiny_model_dir: Path, tmp_path: Path):
    """Two processes, each with its own number of informative rows (each forwards the larger count)."""
    settings = {"stock": (False, False), **VARIANTS}
    cases = [
        {"skip": skip, "shared": shared, "loss_type": loss_type, "num_generations": 4, "completion_length": length}
        for loss_type, length in (("grpo", 1), ("bnpo", 4), ("dapo", 1), ("dr_grpo", 4))
        for skip, shared in settings.values()
    ]
    results = run_in_ddp(tiny_model_dir, cases, tmp_path)
    for start in range(0, len(cases), len(settings)):
        runs = dict(zip(settings, results[start : start + len(settings)], strict=True))
        assert_variants_match_stock(runs)


def test_kept_rows_are_the_informative_ones_then_filler():
    informative = torch.tensor([False, True, False, False, True, False])
    assert kept_rows(informative, 2).tolist() == [1, 4]
    assert kept_rows(informative, 4).tolist() == [0, 1, 2, 4]  # filled with the first uninformative rows
    assert kept_rows(torch.zeros(3, dtype=torch.bool), 1).tolist() == [0]


@pytest.mark.parametrize(
    ("settings", "switch", "reason"),
    [({"beta": 0.04}, "skip_zero_advantage", "beta 0.04"),
     ({"loss_type": "sapo"}, "skip_zero_advantage", "loss_type sapo"),
     ({"top_entropy_quantile": 0.5}, "skip_zero_advantage", "top_entropy_quantile"),
     ({"activation_checkpointing": True}, "shared_prompt", "activation checkpointing")],
)  # fmt: skip
def test_settings_that_need_every_row_fall_back_to_stock(
    tiny_model_dir: Path, tmp_path: Path, caplog, settings, switch, reason
):
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2,
                        max_completion_length=1, bf16=False, use_cpu=True, report_to=[],
                        **{"activation_checkpointing": False, **settings})  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with caplog.at_level("WARNING"):
        trainer = RLPTGRPOTrainer(
            model=model, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left"),
            reward_funcs=[parity_reward], args=config, train_dataset=Dataset.from_dict({"prompt": PROMPTS}),
            skip_zero_advantage=True, shared_prompt=True,
        )  # fmt: skip
    assert not getattr(trainer, switch)
    forwarded = "every completion is forwarded" + (" with its prompt" if switch == "shared_prompt" else "")
    assert f"{switch}: {forwarded}, because of {reason}" in caplog.text


def test_shared_prefill_generates_what_generate_does(tiny_model_dir: Path):
    """Repeated left-padded prompts, sampled with one seed: the same tokens with the prompts' prefill shared, which
    computes each distinct prompt once."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, padding_side="left")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    batch = tokenizer([prompt for prompt in PROMPTS[:3] for _ in range(4)], return_tensors="pt", padding=True)
    settings = {"do_sample": True, "max_new_tokens": 5, "temperature": 0.9, "top_k": 0, "pad_token_id": 0}
    counter = FlopCounter()
    counter.watch("policy", model)
    outputs, reads = [], []
    for shared in (False, True):
        before = counter.tokens.get("policy", {}).get("read", 0)
        torch.manual_seed(0)
        with torch.no_grad(), shared_prefill(model) if shared else contextlib.nullcontext():
            outputs.append(model.generate(**batch, **settings))
        reads.append(counter.tokens["policy"]["read"] - before)
    assert torch.equal(outputs[0], outputs[1])
    # shared: each distinct prompt but its last token once, then every row's last prompt token
    mask = batch["attention_mask"]
    assert reads[0] - reads[1] == int(mask.sum()) - int(mask[::4, :-1].sum()) - len(mask)
    assert "generate" not in vars(model)  # the model's own generate is back
