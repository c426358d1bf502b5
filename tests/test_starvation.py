"""The starvation forecast: exact hit probabilities against a sum over the whole vocabulary, its samples against the
next-segment evaluation's, the eval command's files, and the forecast against samples of SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlpt_trl.cli import run_command
from rlpt_trl.evaluation.next_segment.prompts import build_next_segment_prompts
from rlpt_trl.evaluation.next_segment.sampling import sample_completions
from rlpt_trl.evaluation.starvation.forecast import next_token_hits, zero_variance_probability
from rlpt_trl.evaluation.starvation.result import metric_names, record_values
from rlpt_trl.rewards.rpt_prefix import rpt_prefix, token_boundaries


@pytest.fixture(scope="module")
def prompts(tiny, cola_sample_glue_dir: Path):
    return build_next_segment_prompts(tiny[1], data_dir=cola_sample_glue_dir, seed=1, max_samples=20)


def test_hit_probability_is_the_mass_of_the_rewarded_tokens(tiny, prompts):
    """Each prompt's probability is the tempered softmax mass, from one unpadded float64 forward, of every token whose
    lone decode `rpt_prefix` pays: found by scoring the whole vocabulary."""
    model, tokenizer = tiny
    temperature = 0.7
    hits = next_token_hits(model, tokenizer, prompts.prompt, prompts.completion, keys=prompts.idx,
                           temperature=temperature, num_samples=3, seed=0, batch_size=6)  # fmt: skip
    vocab = model.config.vocab_size
    decoded = [tokenizer.decode([token], skip_special_tokens=True) for token in range(vocab)]
    rewarded_prompts = 0
    for row, (prompt, completion) in enumerate(zip(prompts.prompt, prompts.completion, strict=True)):
        boundaries = token_boundaries(tokenizer, completion)
        rewarded = [token for token in range(vocab) if rpt_prefix(decoded[token], completion, boundaries)]
        rewarded_prompts += bool(rewarded)
        with torch.no_grad():
            logits = model(torch.tensor([tokenizer(prompt)["input_ids"]])).logits[0, -1].double()
        expected = torch.softmax(logits / temperature, dim=0)[rewarded].sum().item()
        assert hits.probability[row] == pytest.approx(expected, abs=1e-6)
    assert rewarded_prompts == len(prompts)  # every true completion starts with a token the model can emit


def test_samples_are_the_next_segment_first_tokens(tiny, prompts):
    """The forecast's samples are the one-token samples the next-segment evaluation draws for the same prompts, keys and
    seed, each scored by `rpt_prefix`; the draws do not depend on the batch size."""
    model, tokenizer = tiny
    settings = {"temperature": 0.9, "num_samples": 5, "seed": 3}
    hits = next_token_hits(model, tokenizer, prompts.prompt, prompts.completion, keys=prompts.idx, batch_size=7,
                           **settings)  # fmt: skip
    drawn = sample_completions(model, tokenizer, prompts.prompt, keys=prompts.idx, max_new_tokens=1, **settings)
    expected = [
        [rpt_prefix(sample, completion, token_boundaries(tokenizer, completion)) for sample in samples]
        for samples, completion in zip(drawn.samples, prompts.completion, strict=True)
    ]
    np.testing.assert_array_equal(hits.sampled, expected)
    again = next_token_hits(model, tokenizer, prompts.prompt, prompts.completion, keys=prompts.idx, batch_size=20,
                            **settings)  # fmt: skip
    np.testing.assert_array_equal(again.sampled, hits.sampled)
    np.testing.assert_allclose(again.probability, hits.probability, atol=1e-9)


def test_zero_variance_probability_counts_the_all_equal_outcomes():
    """p^K + (1 - p)^K against the sum over all 2^K outcomes of K binary rewards of those that are all equal."""
    for p in (0.0, 0.03, 0.5, 0.9, 1.0):
        for size in (2, 3, 5):
            outcomes = np.array(np.meshgrid(*[[0, 1]] * size)).reshape(size, -1).T
            chance = np.prod(np.where(outcomes == 1, p, 1 - p), axis=1)
            equal = outcomes.min(axis=1) == outcomes.max(axis=1)
            assert zero_variance_probability(np.array([p]), size)[0] == pytest.approx(chance[equal].sum())


def test_eval_command_writes_recomputable_metrics(tiny_model_dir: Path, tiny_cola_data: Path, tmp_path: Path, capsys):
    """`rlpt-trl eval --tasks starvation` on a data build's training prompts: every metric and CI in metrics.json, each
    recomputed from the predictions file; bad flags are one error line."""
    common = ["--model_name_or_path", str(tiny_model_dir), "--tasks", "starvation", "--bootstrap_iters", "200",
              "--next_segment_data", str(tiny_cola_data)]  # fmt: skip
    output = tmp_path / "run"
    sizes = ["2", "3", "6"]
    assert run_command("eval", [*common, "--output_dir", str(output), "--starvation_group_sizes", *sizes,
                                "--starvation_split", "train"]) == 0  # fmt: skip
    entry = json.loads((output / "metrics.json").read_text())[str(tiny_model_dir)]["starvation"]
    assert entry["group_sizes"] == [2, 3, 6] and entry["n"] > 40
    records = json.loads((output / entry["predictions"]).read_text())
    assert len(records) == entry["n"] and all(len(record["sampled_hits"]) == 6 for record in records)
    values = record_values(records, [2, 3, 6])
    for name in metric_names([2, 3, 6]):
        assert entry[name] == pytest.approx(values[name].mean()), name
        low, high = entry[f"{name}_ci"]
        assert low <= entry[name] <= high
    hits = np.array([record["sampled_hits"] for record in records])
    assert entry["sampled_zero_std_k3"] == pytest.approx(np.mean(hits[:, :3].min(axis=1) == hits[:, :3].max(axis=1)))
    capsys.readouterr()

    assert run_command("eval", [*common, "--output_dir", str(tmp_path / "one"), "--starvation_group_sizes", "1"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "rlpt-trl eval: error: --starvation_group_sizes must be at least 2 each (a group of one has no variance), got [1]"
    ]
    assert run_command("eval", [*common, "--output_dir", str(tmp_path / "held"), "--starvation_split",
                                "validation"]) == 1  # fmt: skip
    assert capsys.readouterr().err.strip().splitlines() == [
        f"rlpt-trl eval: error: {tiny_cola_data}: no validation split"
    ]
    assert run_command("eval", [*common, "--output_dir", str(tmp_path / "none"), "--starvation_sample", "0"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "rlpt-trl eval: error: --starvation_sample must be at least 1, got 0"
    ]
    assert not (tmp_path / "one").exists() and not (tmp_path / "held").exists() and not (tmp_path / "none").exists()

    # a seeded uniform sample of the prompts: the same rows as the whole run gives them
    sampled = tmp_path / "sampled"
    assert run_command("eval", [*common, "--output_dir", str(sampled), "--starvation_group_sizes", *sizes,
                                "--starvation_sample", "10"]) == 0  # fmt: skip
    entry = json.loads((sampled / "metrics.json").read_text())[str(tiny_model_dir)]["starvation"]
    subset = json.loads((sampled / entry["predictions"]).read_text())
    ids = [record["idx"] for record in subset]
    assert entry["n"] == 10 and ids == sorted(ids) and ids != [record["idx"] for record in records][:10]
    whole = {record["idx"]: record for record in records}
    for record in subset:  # the same prompt, probability (up to the batch's padding) and samples
        same = whole[record["idx"]]
        assert (record["prompt"], record["sampled_hits"]) == (same["prompt"], same["sampled_hits"])
        assert record["hit_probability"] == pytest.approx(same["hit_probability"], rel=1e-3)


@pytest.mark.slow
def test_forecast_matches_smollm2_samples_on_cola(smollm2_dir: Path, glue_dir: str | None, tmp_path: Path):
    """SmolLM2 on 400 CoLA dev cuts at GRPO's temperature: the forecast zero-variance share is within 0.03 of the share
    of 64 samples a prompt, at every group size."""
    output = tmp_path / "run"
    flags = ["--model_name_or_path", str(smollm2_dir), "--output_dir", str(output), "--tasks", "starvation",
             "--max_samples", "400", "--bootstrap_iters", "200", "--dtype", "float32"]  # fmt: skip
    assert run_command("eval", [*flags, *(["--data_dir", glue_dir] if glue_dir else [])]) == 0
    entry = json.loads((output / "metrics.json").read_text())[str(smollm2_dir)]["starvation"]
    assert 0.05 < entry["hit_probability"] < 0.3
    for size in (2, 4, 8, 16, 64):
        assert abs(entry[f"forecast_gap_k{size}"]) < 0.03, size
