"""Next-segment evaluation: held-out cuts, seeded Gumbel-max sampling, and every metric recomputed from the records."""

from __future__ import annotations

import copy
import json
import math
import string
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, load_dataset
from scipy.stats import chisquare

from rlpt_trl.data.build import DataBuildArguments, build_dataset
from rlpt_trl.data.glue import load_glue
from rlpt_trl.data.tasks import split_prompt_completion
from rlpt_trl.evaluation.next_segment.prompts import build_next_segment_prompts
from rlpt_trl.evaluation.next_segment.result import DIFFICULTY_THRESHOLDS, METRICS, record_values
from rlpt_trl.evaluation.next_segment.sampling import Continuations, GumbelMax, sample_completions
from rlpt_trl.evaluation.next_segment.task import NextSegmentScorers, evaluate_next_segment
from rlpt_trl.models.embeddings import encode_normalized, load_embedding_model
from rlpt_trl.models.likelihood import completion_nll
from rlpt_trl.models.loading import load_model_and_tokenizer
from rlpt_trl.models.shared import shared_encoder
from rlpt_trl.rewards import get_reward_funcs
from rlpt_trl.utils.errors import RlptError


SAMPLING = {"num_samples": 3, "max_new_tokens": 4, "seed": 5}


@pytest.fixture(scope="module")
def prompts(tiny, cola_sample_glue_dir: Path):
    return build_next_segment_prompts(tiny[1], data_dir=cola_sample_glue_dir, seed=1, max_samples=12)


@pytest.fixture(scope="module")
def scorers(tiny_model_dir: Path, tiny_embedding_model_dir: Path) -> NextSegmentScorers:
    return NextSegmentScorers.load(
        str(tiny_model_dir), str(tiny_embedding_model_dir), device="cpu", dtype="float32", batch_size=8
    )


def sentence_cut(text: str) -> str | None:
    """The first word as the task compares it, written out: lower case, punctuation peeled off both ends."""
    if not text.split():
        return None
    word = text.split()[0].lower()
    core = word
    while core and core[0] in string.punctuation:
        core = core[1:]
    while core and core[-1] in string.punctuation:
        core = core[:-1]
    return core or word


def teacher_forced_nll(model, tokenizer, prompt: str, completion: str) -> float:
    """Mean NLL of the completion's tokens (those past the shared prefix with the prompt's) from one unpadded forward."""
    context = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + completion)["input_ids"]
    shared = next(
        (i for i, (a, b) in enumerate(zip(ids, context, strict=False)) if a != b), min(len(ids), len(context))
    )
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    nll = -torch.log_softmax(logits[:-1], dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    return nll[max(shared, 1) - 1 :].mean().item()


def first_token_nll(model, tokenizer, prompt: str, token: int) -> float:
    """NLL of `token` right after `prompt` (temperature 1) from one unpadded float64 forward."""
    with torch.no_grad():
        logits = model(torch.tensor([tokenizer(prompt)["input_ids"]])).logits[0, -1].double()
    return float(-torch.log_softmax(logits, dim=-1)[token])


def top16_entropy(model, tokenizer, prompt: str) -> float:
    """Entropy of the next token after `prompt` over its 16 most likely tokens, renormalised, written out."""
    with torch.no_grad():
        logits = model(torch.tensor([tokenizer(prompt)["input_ids"]])).logits[0, -1].double()
    top = torch.sort(logits, descending=True).values[:16]
    probabilities = torch.exp(top - torch.logsumexp(top, dim=0))
    return float(-(probabilities * torch.log(probabilities)).sum())


def true_first_token(tokenizer, prompt: str, completion: str) -> int | None:
    """The true completion's first own token: the joint tokenization's token after the prompt's, if they lead it."""
    context, ids = tokenizer(prompt)["input_ids"], tokenizer(prompt + completion)["input_ids"]
    return ids[len(context)] if ids[: len(context)] == context and len(ids) > len(context) else None


def distinct(samples: list[str], n: int) -> float | None:
    grams = [tuple(s.split()[i : i + n]) for s in samples for i in range(len(s.split()) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def check_recomputable(result, model, tokenizer, encoder, scorer, nll_tolerance: float = 1e-4) -> None:
    """Every per-record value and every metric, recomputed from the records with independent code (NLLs from an
    unpadded float64 forward: within `nll_tolerance` of the batched float32 ones)."""
    records = result.records
    texts = sorted(
        {r[key] for r in records for key in ("text", "prompt", "completion")}
        | {r["prompt"] + s for r in records for s in r["samples"]}
        | {s for r in records for s in r["samples"]}
    )
    embedding = dict(zip(texts, encode_normalized(encoder, texts), strict=True))

    def cos(a: str, b: str) -> float:
        return float(np.dot(embedding[a].astype(np.float64), embedding[b]))

    per_record: dict[str, list] = {name: [] for name in METRICS}
    for r in records:
        samples, k = r["samples"], len(r["samples"])
        assert len(r["cosine_sentence"]) == len(r["next_word_correct"]) == len(r["new_tokens"]) == k
        cosine_sentence = [cos(r["prompt"] + s, r["text"]) for s in samples]
        np.testing.assert_allclose(r["cosine_sentence"], cosine_sentence, atol=2e-5)
        np.testing.assert_allclose(r["cosine_prompt_only"], cos(r["prompt"], r["text"]), atol=2e-5)
        cosine_completion = [cos(s, r["completion"]) if s.strip() else 0.0 for s in samples]
        np.testing.assert_allclose(r["cosine_completion"], cosine_completion, atol=2e-5)
        np.testing.assert_allclose(r["reward"], np.array(cosine_sentence) * r["score"], atol=2e-5)
        truth = sentence_cut(r["completion"])
        correct = [int(sentence_cut(s) == truth) for s in samples]
        assert r["next_word_correct"] == correct
        assert r["greedy_next_word_correct"] == int(sentence_cut(r["greedy"]) == truth)
        nll = [teacher_forced_nll(*scorer, r["prompt"], s) if s.strip() else None for s in samples]
        for got, expected in zip(r["completion_log_perplexity"], nll, strict=True):
            assert got == expected if expected is None else got == pytest.approx(expected, abs=nll_tolerance)
        own_nll = teacher_forced_nll(model, tokenizer, r["prompt"], r["completion"])
        assert r["true_completion_nll"] == pytest.approx(own_nll, abs=nll_tolerance)
        assert (r["distinct_1"], r["distinct_2"]) == (distinct(samples, 1), distinct(samples, 2))
        entropy = top16_entropy(*scorer, r["prompt"])
        assert r["cut_entropy"] == pytest.approx(entropy, abs=nll_tolerance)
        reached = [name for name, threshold in DIFFICULTY_THRESHOLDS.items() if r["cut_entropy"] >= threshold]
        assert r["difficulty"] == (reached[-1] if reached else "trivial")
        first = true_first_token(tokenizer, r["prompt"], r["completion"])
        token_correct = r["next_token_correct"]
        assert len(token_correct) == k and (first is None) == (None in token_correct) == (token_correct == [None] * k)
        finite_nll = [value for value in nll if value is not None]
        row = {
            "cosine_sentence": np.mean(cosine_sentence),
            "cosine_prompt_only": r["cosine_prompt_only"],
            "cosine_gain": np.mean(cosine_sentence) - r["cosine_prompt_only"],
            "cosine_completion": np.mean(cosine_completion),
            "reward": np.mean(r["reward"]),
            "next_word_accuracy": np.mean(correct),
            "greedy_next_word_accuracy": r["greedy_next_word_correct"],
            "completion_log_perplexity": np.mean(finite_nll) if finite_nll else None,
            "true_completion_nll": own_nll,
            "distinct_1": r["distinct_1"],
            "distinct_2": r["distinct_2"],
            "empty_rate": np.mean([not s.strip() for s in samples]),
            "mean_new_tokens": np.mean(r["new_tokens"]),
            "cut_entropy": r["cut_entropy"],
            "next_token_accuracy": None if first is None else np.mean(token_correct),
            "greedy_next_token_accuracy": r["greedy_next_token_correct"],
            "next_token_pass_at_k": None if first is None else max(token_correct),
            "first_token_nll": None if first is None else first_token_nll(model, tokenizer, r["prompt"], first),
        }
        assert (r["first_token_nll"] is None) == (first is None)
        for name, threshold in DIFFICULTY_THRESHOLDS.items():
            for metric in ("next_token_accuracy", "greedy_next_token_accuracy"):
                row[f"{metric}_{name}"] = row[metric] if r["cut_entropy"] >= threshold else None
        for name, value in row.items():
            per_record[name].append(value)
    for name, values in per_record.items():
        defined = [value for value in values if value is not None]
        expected = np.mean(defined) if defined else None
        assert result.metrics[name] == pytest.approx(expected, abs=nll_tolerance), name


def test_cuts_equal_the_data_build(tiny, cola_sample_glue_dir: Path):
    tokenizer = tiny[1]
    cola = load_glue("cola", "validation", cola_sample_glue_dir)
    splits, _ = split_prompt_completion(
        list(cola["sentence"]), tokenizer, min_prompt_tokens=4, min_completion_tokens=18, seed=7
    )
    kept = [(row, split) for row, split in enumerate(splits) if split is not None]
    prompts = build_next_segment_prompts(
        tokenizer, data_dir=cola_sample_glue_dir, seed=7, min_prompt_tokens=4, min_completion_tokens=18
    )
    assert 0 < len(prompts) == len(kept) < len(cola)
    assert prompts.idx == [cola["idx"][row] for row, _ in kept]
    assert prompts.prompt == [split.prompt for _, split in kept]
    assert prompts.completion == [split.completion for _, split in kept]
    assert prompts.text == [cola["sentence"][row] for row, _ in kept]
    assert prompts.score == [1.0 if cola["label"][row] == 1 else -1.0 for row, _ in kept]
    first = build_next_segment_prompts(
        tokenizer, data_dir=cola_sample_glue_dir, seed=7, min_prompt_tokens=4, min_completion_tokens=18, max_samples=5
    )
    assert (first.idx, first.prompt, first.completion) == (prompts.idx[:5], prompts.prompt[:5], prompts.completion[:5])


def test_prompts_from_a_data_build_folder(
    tiny, tiny_model_dir, tiny_embedding_model_dir, cola_sample_glue_dir, tmp_path
):
    output = tmp_path / "cola-grpo"
    arguments = DataBuildArguments(
        output_dir=str(output),
        data_dir=str(cola_sample_glue_dir),
        tokenizer_name_or_path=str(tiny_model_dir),
        embedding_model_name_or_path=str(tiny_embedding_model_dir),
        embedding_device="cpu",
        seed=3,
    )
    build_dataset(arguments)
    rows = load_dataset(str(output), split="train")
    prompts = build_next_segment_prompts(tiny[1], data=output, max_samples=10)
    assert prompts.idx == list(range(10))
    assert (prompts.prompt, prompts.completion) == (list(rows["prompt"][:10]), list(rows["completion"][:10]))
    assert (prompts.text, prompts.score) == (list(rows["text"][:10]), list(rows["scores"][:10]))
    # the sample is both train and dev: the data build's cuts are those of the held-out prompts with its seed
    held_out = build_next_segment_prompts(tiny[1], data_dir=cola_sample_glue_dir, seed=3, max_samples=10)
    assert (held_out.prompt, held_out.completion) == (prompts.prompt, prompts.completion)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"prompt": ["a"], "text": ["a b"]}, r"missing column\(s\) completion, scores \(columns: prompt, text\)"),
        (
            {"prompt": ["a"], "completion": [" b"], "text": ["a b"], "scores": [1.0], "select": []},
            "no rows|IndexError",
        ),
        ({"prompt": ["a"], "completion": [" b"], "text": ["a b"], "scores": [2.0]}, "outside the range"),
    ],
)
def test_bad_data_folders(tiny, tmp_path, columns, message):
    folder = tmp_path / "data"
    rows = Dataset.from_dict({name: values for name, values in columns.items() if name != "select"})
    rows.select(columns.get("select", range(len(rows)))).save_to_disk(str(folder))
    with pytest.raises(RlptError, match=message) as error:
        build_next_segment_prompts(tiny[1], data=folder)
    assert str(folder) in str(error.value) and "\n" not in str(error.value)


def test_bad_inputs(tiny, prompts, cola_sample_glue_dir, tmp_path):
    model, tokenizer = tiny
    cases = [
        (lambda: build_next_segment_prompts(tokenizer, data=tmp_path / "absent"), "cannot read a dataset"),
        (lambda: build_next_segment_prompts(tokenizer, data=tmp_path, data_dir=cola_sample_glue_dir), "not both"),
        (
            lambda: build_next_segment_prompts(tokenizer, data_dir=cola_sample_glue_dir, min_prompt_tokens=99),
            "can be cut",
        ),
        (lambda: build_next_segment_prompts(tokenizer, data_dir=cola_sample_glue_dir, max_samples=0), "max_samples"),
        (
            lambda: sample_completions(model, tokenizer, prompts.prompt, num_samples=0),
            "--num_samples must be at least 1",
        ),
        (lambda: sample_completions(model, tokenizer, prompts.prompt, temperature=0.0), "--temperature must be > 0"),
        (lambda: sample_completions(model, tokenizer, prompts.prompt, temperature=-1, num_samples=1), "--temperature"),
        (lambda: sample_completions(model, tokenizer, prompts.prompt, max_new_tokens=0), "--max_new_tokens"),
        (lambda: sample_completions(model, tokenizer, prompts.prompt, keys=[1]), "1 keys for 12 prompts"),
    ]
    for call, message in cases:
        with pytest.raises(RlptError, match=message) as error:
            call()
        assert "\n" not in str(error.value)


def _drawn(drawn: Continuations) -> tuple[list, list, list]:
    """What sampling drew: the samples, the greedy continuations and the samples' token counts."""
    return drawn.samples, drawn.greedy, drawn.new_tokens


def test_seeded_sampling_repeats_and_ignores_batching(tiny, prompts):
    model, tokenizer = tiny
    first = _drawn(sample_completions(model, tokenizer, prompts.prompt, keys=prompts.idx, batch_size=4, **SAMPLING))
    samples, greedy, new_tokens = first
    assert len(samples) == len(greedy) == len(new_tokens) == len(prompts)
    assert all(len(row) == SAMPLING["num_samples"] for row in samples)
    assert all(0 <= count <= SAMPLING["max_new_tokens"] for row in new_tokens for count in row)
    assert len({sample for row in samples for sample in row}) > len(prompts)  # the samples vary
    for batch_size in (4, 1, 12):
        drawn = sample_completions(
            model, tokenizer, prompts.prompt, keys=prompts.idx, batch_size=batch_size, **SAMPLING
        )
        assert _drawn(drawn) == first
    # a subset keyed by its dataset ids draws what the whole set draws for those prompts
    subset = sample_completions(model, tokenizer, prompts.prompt[3:7], keys=prompts.idx[3:7], **SAMPLING)
    assert _drawn(subset) == tuple(part[3:7] for part in first)
    reseeded = sample_completions(model, tokenizer, prompts.prompt, keys=prompts.idx, **{**SAMPLING, "seed": 6})
    assert reseeded.samples != samples and reseeded.greedy == greedy
    at_zero = sample_completions(model, tokenizer, prompts.prompt, num_samples=1, temperature=0.0, max_new_tokens=4)
    assert at_zero.samples == [[text] for text in greedy]


def test_greedy_decoding_continues_as_generate_does(tiny, prompts):
    """The decoding loop (the first token from the prompt + true completion pass, then that cache with the true
    completion's columns masked) continues each prompt as `model.generate` does greedily, one prompt at a time,
    stopping at eos."""
    model, tokenizer = tiny
    first = sample_completions(model, tokenizer, prompts.prompt, num_samples=1, temperature=0.0, max_new_tokens=6)
    # an eos that some continuations reach (and others not), so that stopping is exercised
    counts = np.bincount([tokens[0][2] for tokens in first.tokens if len(tokens[0]) > 2])
    stopping = copy.deepcopy(model)
    stopping.generation_config.eos_token_id = int(counts.argmax())
    drawn = sample_completions(
        stopping,
        tokenizer,
        prompts.prompt,
        num_samples=1,
        temperature=0.0,
        max_new_tokens=6,
        true_completions=prompts.completion,
        batch_size=5,
    )
    eos = stopping.generation_config.eos_token_id
    lengths = [row[0] for row in drawn.new_tokens]
    assert min(lengths) < 6 and max(lengths) == 6, lengths
    for prompt, tokens in zip(prompts.prompt, drawn.tokens, strict=True):
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        output = stopping.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=6,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
        )[0, ids.shape[1] :].tolist()
        assert tokens[0] == (output[: output.index(eos)] if eos in output else output)


def test_two_models_draw_the_same_random_numbers(tiny, prompts):
    model, tokenizer = tiny
    doubled = copy.deepcopy(model)
    with torch.no_grad():
        doubled.model.norm.weight.mul_(2.0)  # exactly twice the logits: at twice the temperature, the same softmax
    first = sample_completions(model, tokenizer, prompts.prompt, keys=prompts.idx, temperature=0.9, **SAMPLING)
    second = sample_completions(doubled, tokenizer, prompts.prompt, keys=prompts.idx, temperature=2 * 0.9, **SAMPLING)
    assert _drawn(second) == _drawn(first)


def test_gumbel_max_draws_from_the_tempered_softmax():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5, -2.0])
    temperature, draws = 0.7, 8000
    rows = [(key, key % 4) for key in range(draws)]
    processor = GumbelMax(rows, seed=3, temperature=temperature)
    picked = processor(logits.repeat(draws, 1), 1)
    expected = torch.softmax(logits.double() / temperature, dim=0).numpy() * draws
    assert chisquare(np.bincount(picked.numpy(), minlength=6), expected).pvalue > 1e-3
    # successive steps are independent draws: pairs follow the product distribution
    pair_logits = torch.tensor([0.0, 0.4, -0.3])
    steps = [processor(pair_logits.repeat(draws, 1), step) for step in (1, 2)]
    probabilities = torch.softmax(pair_logits.double() / temperature, dim=0).numpy()
    pairs = np.bincount((3 * steps[0] + steps[1]).numpy(), minlength=9)
    assert chisquare(pairs, np.outer(probabilities, probabilities).ravel() * draws).pvalue > 1e-3
    # greedy rows, and sampled ones told they are not active, pick their argmax
    rows = [None, *((key, 0) for key in range(40))]
    scores = logits.repeat(len(rows), 1)
    picked = GumbelMax(rows, seed=3, temperature=temperature)(scores, 1)
    assert picked[0] == 0 and (picked[1:] != 0).any()
    inactive = torch.tensor([True] + [False] * 40)
    assert (GumbelMax(rows, seed=3, temperature=temperature)(scores, 1, active=inactive) == 0).all()


def test_metrics_recomputed_from_the_records(tiny, tiny_model_dir, tiny_embedding_model_dir, prompts, scorers):
    model, tokenizer = tiny
    result = evaluate_next_segment(model, tokenizer, prompts, scorers=scorers, batch_size=5, **SAMPLING)
    sampled = sample_completions(model, tokenizer, prompts.prompt, keys=prompts.idx, **SAMPLING)
    assert [r["samples"] for r in result.records] == sampled.samples
    assert [r["greedy"] for r in result.records] == sampled.greedy
    encoder = load_embedding_model(str(tiny_embedding_model_dir), device="cpu")
    scorer = load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    check_recomputable(result, model, tokenizer, encoder, scorer)

    assert (result.task, result.n, result.invalid, result.scoring, result.samples) == (
        "next_segment",
        len(prompts),
        0,
        "sample",
        3,
    )
    assert result.prompt_version == "next_segment-k3-t0.9-n4-s5"
    summary = result.summary()
    # the predictions file and the metrics.json entry are plain JSON (no NaN)
    assert json.loads(json.dumps([result.records, summary], allow_nan=False)) == [result.records, summary]
    # so the predictions file alone gives back every per-prompt value
    np.testing.assert_equal(record_values(json.loads(json.dumps(result.records))), result.values)
    assert summary == {
        **result.metrics,
        "n": len(prompts),
        "invalid": 0,
        "scoring": "sample",
        "prompt_version": result.prompt_version,
        "samples": 3,
        "temperature": 0.9,
        "max_new_tokens": 4,
        "seed": 5,
        "source": "cola validation",
        "embedding_model": str(tiny_embedding_model_dir),
        "rewards": "embedding_cosine_reward (1)",
        "scorer_model": str(tiny_model_dir),
    }
    indices = np.array([0, 0, 3, 5, 5, 5, 11])
    on_rows = result.metrics_on(indices)
    for name in METRICS:
        values = result.values[name][indices]
        expected = None if np.isnan(values).all() else np.nanmean(values)
        assert on_rows[name] == pytest.approx(expected), name
    for name, values in result.row_values().items():
        assert not np.isnan(values).any() and values is result.values[name]
    assert {"cosine_sentence", "reward", "true_completion_nll"} <= set(result.row_values())

    # a second model on the same scorers: the caches serve what the first one drew already
    again = evaluate_next_segment(model, tokenizer, prompts, scorers=scorers, batch_size=3, **SAMPLING)
    assert [r["samples"] for r in again.records] == sampled.samples
    assert again.metrics == pytest.approx(result.metrics, abs=1e-6)


def test_blank_samples(tiny, tiny_model_dir, tiny_embedding_model_dir, prompts, scorers):
    model, tokenizer = tiny
    # half the vocabulary ends a continuation: many samples stop at once, blank
    stopping = copy.deepcopy(model)
    stopping.generation_config.eos_token_id = list(range(0, len(tokenizer), 2))
    result = evaluate_next_segment(stopping, tokenizer, prompts, scorers=scorers, **{**SAMPLING, "num_samples": 2})
    blank = [not s.strip() for r in result.records for s in r["samples"]]
    assert 0 < result.metrics["empty_rate"] == pytest.approx(np.mean(blank))
    assert any(None in r["completion_log_perplexity"] for r in result.records)
    assert np.isnan(result.values["completion_log_perplexity"]).any()  # a prompt with only blank samples
    assert "completion_log_perplexity" not in result.row_values()
    encoder = load_embedding_model(str(tiny_embedding_model_dir), device="cpu")
    check_recomputable(
        result, stopping, tokenizer, encoder, load_model_and_tokenizer(str(tiny_model_dir), device="cpu")
    )


@pytest.mark.slow
def test_next_segment_on_smollm2_and_minilm(smollm2_dir, embedding_model_dir, glue_dir):
    model, tokenizer = load_model_and_tokenizer(str(smollm2_dir), device="cpu", dtype="float32")
    prompts = build_next_segment_prompts(tokenizer, data_dir=glue_dir, max_samples=32)
    # the scorer in the evaluated model's fp32, so that its NLLs compare with the recomputation on any CPU
    scorers = NextSegmentScorers.load(str(smollm2_dir), str(embedding_model_dir), device="cpu", dtype="float32")
    result = evaluate_next_segment(model.eval(), tokenizer, prompts, scorers=scorers, num_samples=4, batch_size=8)
    assert result.n == 32
    assert all(value is not None and math.isfinite(value) for value in result.metrics.values()), result.metrics
    assert all(
        -1 <= result.metrics[name] <= 1 for name in ("cosine_sentence", "cosine_prompt_only", "cosine_completion")
    )
    assert 0 < result.metrics["true_completion_nll"] < 20
    encoder = load_embedding_model(str(embedding_model_dir), device="cpu")
    # 30 float32 layers over left-padded batches: the NLLs agree with the float64 recomputation to about 1e-4
    check_recomputable(result, model, tokenizer, encoder, (model, tokenizer), nll_tolerance=1e-3)


@pytest.mark.slow
def test_next_token_accuracy_by_difficulty_on_smollm2(smollm2_dir, embedding_model_dir, glue_dir):
    """RPT's protocol on real CoLA cuts: the scorer's top-16 entropy at each cut (from its own evaluation, equal to a
    separate computation), nested easy / medium / hard sets, and first-token correctness that a re-tokenization of
    the greedy text confirms."""
    model, tokenizer = load_model_and_tokenizer(str(smollm2_dir), device="cpu", dtype="float32")
    prompts = build_next_segment_prompts(tokenizer, data_dir=glue_dir, max_samples=128)
    scorers = NextSegmentScorers.load(str(smollm2_dir), str(embedding_model_dir), device="cpu", dtype="float32")
    result = evaluate_next_segment(
        model.eval(), tokenizer, prompts, scorers=scorers, num_samples=2, batch_size=16, scored_by_model=True
    )
    fresh = NextSegmentScorers.load(str(smollm2_dir), str(embedding_model_dir), device="cpu", dtype="float32")
    separate = fresh.cut_entropies(prompts.prompt)
    entropy = np.array([record["cut_entropy"] for record in result.records])
    np.testing.assert_allclose(entropy, separate, atol=1e-4)
    assert 0 <= entropy.min() and entropy.max() <= math.log(16) + 1e-6
    sizes = {name: int((entropy >= threshold).sum()) for name, threshold in DIFFICULTY_THRESHOLDS.items()}
    assert len(prompts) > sizes["easy"] > sizes["medium"] > sizes["hard"] > 0, sizes  # every set is a real share
    labels = Counter(record["difficulty"] for record in result.records)
    assert labels["hard"] == sizes["hard"] and labels["trivial"] == len(prompts) - sizes["easy"]
    agree = 0
    for record in result.records:
        first = true_first_token(tokenizer, record["prompt"], record["completion"])
        context = tokenizer(record["prompt"])["input_ids"]
        greedy = tokenizer(record["prompt"] + record["greedy"])["input_ids"]
        retokenized = (
            greedy[len(context)] if greedy[: len(context)] == context and len(greedy) > len(context) else None
        )
        agree += record["greedy_next_token_correct"] == float(first is not None and retokenized == first)
    assert agree >= 0.97 * len(prompts), agree
    for name in ("easy", "medium", "hard"):
        greedy = [
            r["greedy_next_token_correct"] for r in result.records if r["cut_entropy"] >= DIFFICULTY_THRESHOLDS[name]
        ]
        assert result.metrics[f"greedy_next_token_accuracy_{name}"] == pytest.approx(np.mean(greedy))


def test_scorers_are_the_training_rewards_models(scorers, tiny_model_dir, tiny_embedding_model_dir):
    """One scorer LM and one sentence encoder per process: the evaluation's are the rewards' own objects."""
    perplexity, embedding = get_reward_funcs(
        ["perplexity_reward", "embedding_cosine_reward"],
        scorer_model_name_or_path=str(tiny_model_dir),
        scorer_dtype="float32",
        embedding_model_name_or_path=str(tiny_embedding_model_dir),
        device="cpu",
    )
    assert perplexity.scorer()[0] is scorers.perplexity.scorer()[0]
    embedding(prompts=["The cat"], completions=[" sat."], text=["The cat sat."], scores=[1.0])
    assert shared_encoder(str(tiny_embedding_model_dir), "cpu") is scorers.embedding_model


def test_the_scorer_evaluated_scores_its_samples_from_its_generation(
    tiny, tiny_model_dir, tiny_embedding_model_dir, prompts, scorers
):
    """With the evaluated model as the scorer LM, `completion_log_perplexity` comes from the log-probabilities that
    generation computed: within 1e-4 of the teacher-forced value in fp32; the scorer LM scores only the samples whose
    text does not tokenize back to the generated tokens (most of the tiny model's byte soup, few of a real model's)."""
    model, tokenizer = tiny
    fresh = NextSegmentScorers.load(
        str(tiny_model_dir), str(tiny_embedding_model_dir), device="cpu", dtype="float32", batch_size=8
    )
    scored = []
    score = fresh.perplexity.log_perplexities
    fresh.perplexity.log_perplexities = lambda p, c: scored.extend(c) or score(p, c)
    own = evaluate_next_segment(model, tokenizer, prompts, scorers=fresh, scored_by_model=True, **SAMPLING)
    plain = evaluate_next_segment(model, tokenizer, prompts, scorers=scorers, **SAMPLING)
    samples = [sample for record in own.records for sample in record["samples"] if sample.strip()]
    assert 0 < len(samples) - len(scored) and set(scored) < set(samples), (len(scored), len(samples))
    for mine, reference in zip(own.records, plain.records, strict=True):
        assert mine["samples"] == reference["samples"]
        for got, expected in zip(
            mine["completion_log_perplexity"], reference["completion_log_perplexity"], strict=True
        ):
            assert got == expected if expected is None else got == pytest.approx(expected, abs=1e-4)
    encoder = load_embedding_model(str(tiny_embedding_model_dir), device="cpu")
    check_recomputable(own, model, tokenizer, encoder, (model, tokenizer))


def test_sequence_nll_shares_prompts_and_matches_an_unpadded_forward(tiny):
    """The completions of one prompt share one computation of it; every value is the unpadded forward's within 1e-4,
    whatever the batch size."""
    model, tokenizer = tiny
    prompts = ["The cat", "The cat", "The cat", "John", "John", "Mary saw him", "A"]
    completions = [" sat on the mat.", " ran", " q q q", " left early.", " sang", " leave.", " b"]
    expected = [teacher_forced_nll(model, tokenizer, p, c) for p, c in zip(prompts, completions, strict=True)]
    for batch_size in (1, 3, 32):
        values = completion_nll(model, tokenizer, prompts, completions, batch_size=batch_size)
        np.testing.assert_allclose(values, expected, atol=1e-4)
