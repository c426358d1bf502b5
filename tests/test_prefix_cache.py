"""Few-shot prefix reuse (`--prefix_cache auto`): the same tokens, log-likelihoods and generations as the plain path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rlpt_trl import load_model_and_tokenizer
from rlpt_trl.cli import run_command
from rlpt_trl.evaluation.glue import DEFAULT_TASKS, build_task_prompts, evaluate_task, get_task, score_continuations
from rlpt_trl.evaluation.glue.generate import generate_greedy
from rlpt_trl.evaluation.glue.prefix_cache import split_after_prefix


def test_split_keeps_the_tokenisation(tiny) -> None:
    _, tokenizer = tiny
    prefix = "The cat sat.\n\n"
    texts = [prefix + "A dog ran.", prefix + "Birds fly high.", prefix + "X"]
    sequences = tokenizer(texts)["input_ids"]
    split = split_after_prefix(tokenizer, prefix, sequences)
    assert split.prefix and split.fallbacks == 0
    for sequence, own in zip(sequences, split.own, strict=True):
        assert split.prefix + own == sequence  # prefix + own part = the whole prompt's tokens


def test_split_falls_back_where_the_boundary_merges(tiny) -> None:
    _, tokenizer = tiny
    prefix = "Answer: ye"
    texts = [prefix + " first.", prefix + " second.", prefix + " third.", prefix + "s merges", "Elsewhere."]
    sequences = tokenizer(texts)["input_ids"]
    # the tokenizer reads "ye" + "s" as one token "yes": that prompt's tokens do not start with the prefix's own
    assert (
        tokenizer(prefix + "s")["input_ids"][: len(tokenizer(prefix)["input_ids"])] != tokenizer(prefix)["input_ids"]
    )
    split = split_after_prefix(tokenizer, prefix, sequences)
    assert split.prefix == tokenizer(prefix)["input_ids"]
    assert split.own[3] is None and split.own[4] is None and split.fallbacks == 2
    # where most prompts merge, the cached part is cut back to what they share and they reuse it
    merged = split_after_prefix(tokenizer, prefix, tokenizer([prefix + "s, one.", prefix + "s, two."])["input_ids"])
    assert len(merged.prefix) == len(split.prefix) - 1 and merged.fallbacks == 0
    for sequence, own in zip(sequences, split.own, strict=True):
        assert own is None or split.prefix + own == sequence
    # no prefix: nothing to reuse, nothing counted
    empty = split_after_prefix(tokenizer, "", sequences)
    assert empty.prefix == [] and empty.fallbacks == 0 and empty.own == [None] * 5


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_loglik_equals_the_plain_path(tiny, cola_sample_glue_dir: Path, batch_size: int) -> None:
    model, tokenizer = tiny
    task = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=12, num_fewshot=3)
    # a prompt that does not start with the prefix is computed whole, in the same call
    prompts = [*task.prompts, "Not a few-shot prompt.\nQuestion: Does this sentence make sense?\nAnswer:"]
    plain = score_continuations(model, tokenizer, prompts, task.spec.choices, batch_size=batch_size)
    cached = score_continuations(
        model, tokenizer, prompts, task.spec.choices, batch_size=batch_size, shared_prefix=task.prefix
    )
    np.testing.assert_allclose(cached, plain, atol=1e-4, rtol=0)


def test_generation_equals_the_plain_path(tiny, cola_sample_glue_dir: Path) -> None:
    model, tokenizer = tiny
    task = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=9, num_fewshot=2)
    plain = generate_greedy(model, tokenizer, task.prompts, max_new_tokens=4, batch_size=4)
    cached = generate_greedy(model, tokenizer, task.prompts, max_new_tokens=4, batch_size=4, shared_prefix=task.prefix)
    assert cached == plain


def test_evaluate_task_reports_the_reuse(tiny, cola_sample_glue_dir: Path) -> None:
    model, tokenizer = tiny
    task = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=8, num_fewshot=2)
    auto = evaluate_task(model, tokenizer, task)
    off = evaluate_task(model, tokenizer, task, prefix_cache="off")
    assert [r["prediction"] for r in auto.records] == [r["prediction"] for r in off.records]
    assert auto.prefix_cache["fallbacks"] == 0 and auto.prefix_cache["tokens"] > 10
    assert "prefix_cache" in auto.summary() and "prefix_cache" not in off.summary()
    zero_shot = build_task_prompts(get_task("cola"), data_dir=cola_sample_glue_dir, max_samples=8)
    assert zero_shot.prefix == "" and evaluate_task(model, tokenizer, zero_shot).prefix_cache is None


def test_prefix_cache_flag(tiny_model_dir: Path, cola_sample_glue_dir: Path, tmp_path: Path, capsys) -> None:
    common = ["--model_name_or_path", str(tiny_model_dir), "--tasks", "cola", "--data_dir", str(cola_sample_glue_dir)]
    common += ["--max_samples", "6", "--num_fewshot", "2", "--bootstrap_iters", "0"]
    assert run_command("eval", [*common, "--output_dir", str(tmp_path / "auto")]) == 0
    assert run_command("eval", [*common, "--output_dir", str(tmp_path / "off"), "--prefix_cache", "off"]) == 0
    auto, off = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("auto", "off"))
    assert auto[str(tiny_model_dir)]["cola"]["prefix_cache"]["fallbacks"] == 0
    assert "prefix_cache" not in off[str(tiny_model_dir)]["cola"]
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices, as for --scoring
        run_command("eval", [*common, "--output_dir", str(tmp_path / "bad"), "--prefix_cache", "on"])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
    assert (
        capsys.readouterr().err.strip().splitlines()[-1].endswith("invalid choice: 'on' (choose from 'auto', 'off')")
    )


@pytest.mark.slow
def test_smollm2_five_shot_equals_the_plain_path(smollm2_dir: Path, glue_dir: str | None) -> None:
    """Real SmolLM2 in fp32, 5-shot, on the first dev rows of all five GLUE tasks: log-likelihoods within 1e-4 and the
    same predictions; generation on CoLA gives the same text."""
    model, tokenizer = load_model_and_tokenizer(smollm2_dir, device="cpu", dtype="float32")
    for name in DEFAULT_TASKS:
        task = build_task_prompts(get_task(name), data_dir=glue_dir, num_fewshot=5, max_samples=24)
        auto = evaluate_task(model, tokenizer, task, batch_size=8)
        off = evaluate_task(model, tokenizer, task, batch_size=8, prefix_cache="off")
        assert auto.prefix_cache["fallbacks"] == 0, name
        for cached, plain in zip(auto.records, off.records, strict=True):
            # STS-B predicts an expected score (a float), the others a label
            assert cached["prediction"] == pytest.approx(plain["prediction"], abs=1e-4), name
            assert cached["choices"] == pytest.approx(plain["choices"], abs=1e-4), name
        if not task.spec.is_regression:
            assert [r["prediction"] for r in auto.records] == [r["prediction"] for r in off.records], name
    task = build_task_prompts(get_task("cola"), data_dir=glue_dir, num_fewshot=5, max_samples=16)
    generated = [
        evaluate_task(
            model, tokenizer, dataclasses.replace(task), scoring="generate", max_new_tokens=4, prefix_cache=mode
        )
        for mode in ("auto", "off")
    ]
    assert [r["generated"] for r in generated[0].records] == [r["generated"] for r in generated[1].records]
