"""Next-token controls (`rlpt-trl ntp`) and the FLOP count every training run writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from datasets import Dataset, load_dataset
from training_checks import assert_parameters_changed
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.trainer.utils import RepeatSampler, add_fused_lm_head

from rlpt_trl import RlptError
from rlpt_trl.scripts.ntp import document_stream, grpo_order, ntp_dataset
from rlpt_trl.trainer.flops import FLOPS_FILE, FlopCounter, check_flops_budget, matmul_parameters


ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "recipes" / "smollm2-135m" / "ntp_cpu.yaml"


def _ntp(model: Path, data: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "rlpt_trl.cli", "ntp", "--config", str(CONFIG), "--model_name_or_path", str(model),
        "--dataset_name", str(data), "--output_dir", str(output), "--report_to", "none", "--save_strategy", "no",
        "--logging_steps", "1", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def _one_error_line(result: subprocess.CompletedProcess, message: str) -> None:
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(errors) == 1 and errors[0].startswith("rlpt-trl ntp: error: ") and message in errors[0], errors


def test_rows_come_in_grpos_order():
    """GRPO's sampler, seeded as the run, draws its prompts (each repeated per completion) in `grpo_order`."""
    rows, seed = 23, 42
    sampler = RepeatSampler(range(rows), mini_repeat_count=4, batch_size=5, seed=seed)
    drawn = list(sampler)[::4]
    assert drawn == grpo_order(rows, seed)[: len(drawn)]
    assert sorted(grpo_order(rows, seed)) == list(range(rows)) and grpo_order(rows, seed) != grpo_order(rows, 1)


def test_mode_columns_and_errors(tiny_cola_data: Path):
    rows = load_dataset(str(tiny_cola_data), split="train")
    pretrain = ntp_dataset(rows, "pretrain", 42, "data")
    assert pretrain.column_names == ["text"] and pretrain["text"] == [
        rows["text"][i] for i in grpo_order(len(rows), 42)
    ]
    assert ntp_dataset(rows, "next_segment", 42, "data").column_names == ["prompt", "completion"]
    cases = [
        (lambda: ntp_dataset(rows, "rl", 42, "data"), "--mode must be one of pretrain, next_segment, documents, got"),
        (lambda: ntp_dataset(rows.remove_columns("text"), "pretrain", 42, "data"), "dataset data lacks column"),
        (lambda: ntp_dataset(rows.select([]), "pretrain", 42, "data"), "dataset data has no rows"),
        (lambda: check_flops_budget(0), "--flops_budget must be > 0"),
        (lambda: check_flops_budget(-1e12), "--flops_budget must be > 0"),
    ]
    for call, message in cases:
        with pytest.raises(RlptError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def test_documents_are_running_text_without_end_of_text_tokens():
    rows = Dataset.from_dict({
        "prompt": ["A cat sat. It purred.", "A cat sat.", "Solo"],
        "completion": ["\n\nIt slept.", " It purred.", " row."],
        "task": ["asr", "asr", "cut"],
        "doc_id": ["a", "a", "b"],
        "segment_index": [2, 1, 0],
    })  # fmt: skip
    (text,) = ntp_dataset(rows, "documents", 0, "data")["text"]
    # each document once, its sentences in order with their own whitespace; documents apart by a blank line
    assert text == "A cat sat. It purred.\n\nIt slept.\n\nSolo row."
    cut = rows.map(lambda row: {"task": "cut"})
    with pytest.raises(RlptError, match="--mode documents needs an asr build or one row a document: document 'a' of"):
        document_stream(cut, "data")


def test_documents_mode_reads_each_token_once(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path):
    output = tmp_path / "documents"
    result = _ntp(tiny_model_dir, tiny_cola_data, output, "--mode", "documents", "--num_train_epochs", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = load_dataset(str(tiny_cola_data), split="train")
    (text,) = ntp_dataset(rows, "documents", 0, "data")["text"]
    stream = AutoTokenizer.from_pretrained(tiny_model_dir)(text)["input_ids"]
    flops = json.loads((output / FLOPS_FILE).read_text())
    # the stream and the one end-of-text token TRL appends, cut into blocks: every token trained once
    assert flops["models"]["policy"]["tokens"]["train"] == len(stream) + 1


def test_flop_count_rule(tiny_model_dir: Path):
    """2 N per real token read, 6 N per token trained; N leaves out the input embedding table but not the output
    layer (tied or not)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    embedding = model.get_input_embeddings().weight.numel()
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert matmul_parameters(model) == model.num_parameters() - (0 if tied else embedding)
    counter = FlopCounter()
    counter.watch("policy", model)
    counter.watch("policy", model)  # watched once
    ids = torch.randint(5, 50, (3, 6))
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # padding is not counted
    model.eval()
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    model.train()
    model(input_ids=ids, attention_mask=mask).logits.sum().backward()
    n = matmul_parameters(model)
    assert counter.tokens == {"policy": {"read": 16, "train": 16}}
    assert counter.flops["policy"] == {"read": 2 * n * 16, "train": 6 * n * 16}
    assert counter.summary()["flops"] == 8 * n * 16


def test_output_layer_counted_where_logits_are_computed(tiny_model_dir: Path):
    """Hand counts of the output layer's positions: the last `logits_to_keep` columns (an int or column indices), the
    labelled positions of TRL's fused head, generation's one position a row a step; the rest of N on every real
    token."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    n, head = matmul_parameters(model), model.get_output_embeddings().weight.numel()
    counter = FlopCounter()
    counter.watch("policy", model)
    ids = torch.randint(5, 50, (3, 6))
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # 16 real tokens
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask, logits_to_keep=1)  # 3 positions
        model(input_ids=ids, attention_mask=mask, logits_to_keep=torch.tensor([1, 4]))  # 2 + 3 real positions
    assert counter.logit_positions["policy"] == {"read": 3 + 5}
    assert counter.flops["policy"]["read"] == 2 * ((n - head) * 32 + head * 8)

    fused = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    add_fused_lm_head(fused)
    counter.watch("fused", fused)
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :4] = -100  # the last two columns are the completion: 2 positions a row
    fused.train()
    fused(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True).log_probs.sum().backward()
    assert counter.logit_positions["fused"] == {"train": 6}
    assert counter.flops["fused"]["train"] == 6 * ((n - head) * 16 + head * 6)

    counter.watch("generation", generating := AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval())
    generating.generate(input_ids=ids[1:], attention_mask=mask[1:], max_new_tokens=3, min_new_tokens=3,
                        do_sample=False, pad_token_id=0)  # fmt: skip
    # a prefill of 2 x 6 tokens, then a token a row in each of 2 steps; logits at one position a row each pass
    assert counter.tokens["generation"] == {"read": 12 + 2 * 2}
    assert counter.logit_positions["generation"] == {"read": 3 * 2}
    summary = counter.summary()["models"]["fused"]
    assert summary["logit_positions"] == {"train": 6} and summary["tokens"] == {"train": 16}


def test_ntp_both_modes_and_the_budget(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path):
    """Each mode trains the tiny model on the data build and writes its FLOPs; a budget stops at the first step that
    reaches it."""
    counts = {}
    for mode in ("pretrain", "next_segment"):
        output = tmp_path / mode
        result = _ntp(tiny_model_dir, tiny_cola_data, output, "--mode", mode, "--max_steps", "3")
        assert result.returncode == 0, result.stderr[-3000:]
        assert_parameters_changed(tiny_model_dir, output)
        flops = json.loads((output / FLOPS_FILE).read_text())
        assert flops["global_step"] == 3 and flops["models"]["policy"]["flops"]["train"] == flops["flops"] > 0
        counts[mode] = flops
    # the same rows: the supervised next segment reads the prompt + completion, about the sentence's tokens
    tokens = {mode: counts[mode]["models"]["policy"]["tokens"]["train"] for mode in counts}
    assert abs(tokens["pretrain"] - tokens["next_segment"]) <= 0.3 * tokens["pretrain"], tokens
    output = tmp_path / "budget"
    budget = 1.5 * counts["pretrain"]["flops"] / 3  # one and a half steps' worth
    result = _ntp(tiny_model_dir, tiny_cola_data, output, "--max_steps", "10", "--flops_budget", str(budget))
    assert result.returncode == 0, result.stderr[-3000:]
    flops = json.loads((output / FLOPS_FILE).read_text())
    assert flops["global_step"] == 2 and flops["flops"] >= budget and flops["budget"] == budget


def test_budget_points_inside_one_run_and_a_resumed_count(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path):
    """`--save_at_flops` saves a checkpoint at the first step reaching each count, with its flops.json; a run resumed
    from a checkpoint counts on from that checkpoint's count, and reaches its budget at the uninterrupted run's step."""
    step = json.loads(_probe_flops(tiny_model_dir, tiny_cola_data, tmp_path / "probe"))["flops"]
    output = tmp_path / "points"
    points = ["--save_at_flops", str(1.5 * step), str(3.5 * step), "--flops_budget", str(4.5 * step),
              "--save_total_limit", "0"]  # fmt: skip
    result = _ntp(tiny_model_dir, tiny_cola_data, output, "--max_steps", "10", *points)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = {
        int(path.name.split("-")[1]): json.loads((path / FLOPS_FILE).read_text())
        for path in output.glob("checkpoint-*")
    }
    assert sorted(saved) == [2, 4, 5]  # two budget points, and the budget's own stop
    assert saved[2]["flops"] >= 1.5 * step > saved[2]["flops"] - step and saved[4]["flops"] >= 3.5 * step
    final = json.loads((output / FLOPS_FILE).read_text())
    assert final["global_step"] == 5 and final["flops"] == saved[5]["flops"]
    resumed = tmp_path / "resumed"
    shutil.copytree(output / "checkpoint-2", resumed / "checkpoint-2")
    result = _ntp(
        tiny_model_dir, tiny_cola_data, resumed, "--max_steps", "10", *points, "--resume_from_checkpoint", "true"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    again = json.loads((resumed / FLOPS_FILE).read_text())
    assert again["global_step"] == 5 and again["resumed_at_flops"] == saved[2]["flops"]
    assert again["flops"] == pytest.approx(final["flops"], rel=1e-9)
    assert sorted(path.name for path in resumed.glob("checkpoint-*")) == [
        "checkpoint-2",
        "checkpoint-4",
        "checkpoint-5",
    ]


def _probe_flops(model: Path, data: Path, output: Path) -> str:
    """flops.json of one step."""
    result = _ntp(model, data, output, "--max_steps", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return (output / FLOPS_FILE).read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "rl"], "--mode must be one of pretrain, next_segment"),
        (["--flops_budget", "0"], "--flops_budget must be > 0"),
        (["--save_at_flops", "1e9"], "--save_at_flops keeps its checkpoints only without rotation: pass"),
    ],
)
def test_ntp_bad_input_is_one_line(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path, extra, message):
    _one_error_line(_ntp(tiny_model_dir, tiny_cola_data, tmp_path / "out", *extra), message)
    assert not (tmp_path / "out").exists()


def test_ntp_needs_the_mode_columns(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path):
    rows = load_dataset(str(tiny_cola_data), split="train").remove_columns(["prompt", "completion"])
    folder = tmp_path / "text-only"
    rows.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    result = _ntp(tiny_model_dir, folder, tmp_path / "out", "--mode", "next_segment")
    _one_error_line(result, f"dataset {folder} lacks column(s) prompt, completion for --mode next_segment")
    assert not (tmp_path / "out").exists()
