"""Reward functions: values against independent computations, group z-scores, ranks, errors, TRL trainers."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from training_checks import TINY_RL_SETTINGS, assert_rewards_recomputed, free_port
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.integrations import deepspeed as hf_deepspeed

from rlpt_trl import RlptError, get_embedding_cosine_reward, get_perplexity_reward, get_reward_funcs
from rlpt_trl.models.embeddings import encode_normalized, load_embedding_model
from rlpt_trl.models.shared import unpartitioned
from rlpt_trl.rewards import REWARD_FUNCS
from rlpt_trl.rewards.inputs import reader_text
from rlpt_trl.testing.tiny_models import TINY_EMBEDDING_DIM


PROMPTS = ["The cat"] * 4 + ["John"] * 4 + ["Mary saw"] * 4
COMPLETIONS = [
    " sat on the mat.", " is black.", " ate the book quickly.", " x q z",
    " runs home.", " runs home.", " left early.", " the the the",
    " a dog.", " him leave.", " that John left.", " it.",
]  # fmt: skip
# The embedding reward's dataset columns for PROMPTS: each group's original sentence and human score.
TEXTS = ["The cat sat on the mat."] * 4 + ["John runs home."] * 4 + ["Mary saw him leave."] * 4
SCORES = [1.0] * 4 + [0.5] * 4 + [-1.0] * 4


@pytest.fixture(scope="module")
def scorer(tiny_model_dir: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def perplexity(tiny_model_dir: Path):
    # fp32 on every CPU, so that values compare with an fp32 forward pass at 1e-4
    return get_perplexity_reward(str(tiny_model_dir), batch_size=5, device="cpu", dtype="float32", num_generations=4)


@pytest.fixture(scope="module")
def embedding(tiny_embedding_model_dir: Path):
    return get_embedding_cosine_reward(str(tiny_embedding_model_dir), batch_size=8, device="cpu")


def direct_nll(scorer, prompt_text: str, full_text: str, special: bool = True) -> float:
    """Mean NLL of the tokens after the prompt, from one unpadded forward pass."""
    model, tokenizer = scorer
    prompt_len = len(tokenizer(prompt_text, add_special_tokens=special)["input_ids"])
    ids = torch.tensor([tokenizer(full_text, add_special_tokens=special)["input_ids"]])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0, :-1].double(), dim=-1)
    token_logprobs = logprobs.gather(1, ids[0, 1:, None])[:, 0]
    return -token_logprobs[prompt_len - 1 :].mean().item()


def zscores(values: list[float]) -> np.ndarray:
    values = np.asarray(values)
    return (values - values.mean()) / values.std()


@pytest.mark.filterwarnings("ignore")
def test_perplexity_matches_direct_forward_and_zscores(perplexity, scorer):
    metrics = {}
    rewards = perplexity(prompts=PROMPTS, completions=COMPLETIONS, log_metric=metrics.__setitem__)
    expected_nll = [direct_nll(scorer, p, p + c) for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]
    np.testing.assert_allclose(perplexity.log_perplexities(PROMPTS, COMPLETIONS), expected_nll, atol=1e-4)
    rewards = np.asarray(rewards).reshape(3, 4)
    for group, nll in zip(rewards, np.reshape(expected_nll, (3, 4)), strict=True):
        np.testing.assert_allclose(group, -zscores(nll), atol=1e-3)
        assert abs(group.mean()) < 1e-9 and abs(group.std() - 1) < 1e-9
    assert metrics["rewards/perplexity_reward/perplexity"] == pytest.approx(np.exp(np.mean(expected_nll)), rel=1e-4)


def test_perplexity_groups_without_num_generations(perplexity, scorer, tiny_model_dir):
    by_run = get_perplexity_reward(str(tiny_model_dir), device="cpu", dtype="float32")  # one padded batch
    prompts, completions = PROMPTS + ["A much longer prompt than the others"], COMPLETIONS + [" x."]
    expected = [direct_nll(scorer, p, p + c) for p, c in zip(prompts, completions, strict=True)]
    np.testing.assert_allclose(by_run.log_perplexities(prompts, completions), expected, atol=1e-4)
    assert by_run(prompts=PROMPTS, completions=COMPLETIONS) == pytest.approx(
        perplexity(prompts=PROMPTS, completions=COMPLETIONS), abs=1e-4
    )
    with pytest.raises(RlptError, match="do not share one prompt"):
        get_perplexity_reward(str(tiny_model_dir), num_generations=3)(prompts=PROMPTS, completions=COMPLETIONS)


def test_perplexity_degenerate_cases(perplexity, tiny_model_dir):
    prompts = ["The cat"] * 4 + ["John"] * 4 + ["Mary"] * 4
    completions = [" sat.", " sat.", " sat.", " sat."]  # zero spread
    completions += [" ran.", "", " is tall and kind.", " q"]  # one empty
    completions += ["", "", "", ""]  # nothing scorable
    rewards = perplexity(prompts=prompts, completions=completions)
    assert rewards[:4] == [0.0] * 4
    assert rewards[5] == min(rewards[4:8]) < 0
    assert rewards[8:] == [0.0] * 4
    assert np.isfinite(rewards).all()
    alone = get_perplexity_reward(str(tiny_model_dir), num_generations=1)
    assert alone(prompts=["The cat", "John"], completions=[" sat.", " ran."]) == [0.0, 0.0]


@pytest.mark.filterwarnings("ignore")
def test_perplexity_conversational(perplexity, scorer):
    _, tokenizer = scorer
    prompts = [[{"role": "user", "content": "Finish: The cat"}]] * 4
    completions = [[{"role": "assistant", "content": text}] for text in COMPLETIONS[:4]]
    expected = []
    for prompt, completion in zip(prompts, completions, strict=True):
        prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        full_text = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
        expected.append(direct_nll(scorer, prompt_text, full_text, special=False))
    np.testing.assert_allclose(perplexity.log_perplexities(prompts, completions), expected, atol=1e-4)
    np.testing.assert_allclose(perplexity(prompts=prompts, completions=completions), -zscores(expected), atol=1e-3)


def _holds_a_model(reward: object) -> bool:
    return any(isinstance(value, torch.nn.Module) for value in vars(reward).values())


def test_perplexity_pickles_before_and_after_first_call(tiny_model_dir):
    reward = get_perplexity_reward(str(tiny_model_dir), device="cpu", num_generations=4)
    fresh = pickle.loads(pickle.dumps(reward))
    expected = reward(prompts=PROMPTS, completions=COMPLETIONS)
    used = pickle.loads(pickle.dumps(reward))
    assert fresh.__name__ == used.__name__ == "perplexity_reward"
    assert not _holds_a_model(used)  # the scorer stays with the process, not the pickle
    assert fresh(prompts=PROMPTS, completions=COMPLETIONS) == pytest.approx(expected, abs=1e-9)
    assert used(prompts=PROMPTS, completions=COMPLETIONS) == pytest.approx(expected, abs=1e-9)


def test_rewards_same_on_two_processes(perplexity, embedding, tiny_model_dir, tiny_embedding_model_dir, tmp_path):
    batch = {"prompts": PROMPTS, "completions": COMPLETIONS}
    scorer = {"scorer_model_name_or_path": str(tiny_model_dir), "reward_batch_size": 4, "scorer_dtype": "float32"}
    encoder = {"embedding_model_name_or_path": str(tiny_embedding_model_dir), "reward_batch_size": 4}
    targets = encode_normalized(load_embedding_model(str(tiny_embedding_model_dir), device="cpu"), TEXTS).tolist()
    perplexity_cases = [
        # TRL's layout: equal slices; the middle group straddles the two processes.
        {"settings": {**scorer, "num_generations": 4}, "slices": [6, 6]},
        # Unequal slices, groups found as runs of identical prompts.
        {"settings": scorer, "slices": [5, 7]},
    ]
    embedding_cases = [
        # Targets embedded from the text column by each process, or read from a precomputed column.
        {"settings": encoder, "columns": {"text": TEXTS, "scores": SCORES}, "slices": [6, 6]},
        {"settings": encoder, "columns": {"target_embedding": targets, "scores": SCORES}, "slices": [5, 7]},
    ]
    cases = [{**batch, "reward": "perplexity_reward", **case} for case in perplexity_cases]
    cases += [{**batch, "reward": "embedding_cosine_reward", **case} for case in embedding_cases]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    script = Path(__file__).with_name("distributed_rewards.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
    command += ["--master_port", str(free_port()), str(script), str(tmp_path / "cases.json")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    per_rank = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    single = {
        "perplexity_reward": perplexity(prompts=PROMPTS, completions=COMPLETIONS),
        "embedding_cosine_reward": embedding(prompts=PROMPTS, completions=COMPLETIONS, text=TEXTS, scores=SCORES),
    }
    for index, case in enumerate(cases):
        assert [len(per_rank[rank][index]) for rank in range(2)] == case["slices"]
        np.testing.assert_allclose(per_rank[0][index] + per_rank[1][index], single[case["reward"]], atol=1e-4)


def test_reward_models_load_whole_under_zero3(tiny_model_dir, tmp_path):
    class ZeroStage3Config:  # what transformers consults to partition models at load time
        def is_zero3(self) -> bool:
            return True

    config = ZeroStage3Config()
    hf_deepspeed.set_hf_deepspeed_config(config)
    try:
        with unpartitioned():
            assert not hf_deepspeed.is_deepspeed_zero3_enabled()
        assert hf_deepspeed.is_deepspeed_zero3_enabled()
        # A plain load would now enter deepspeed.zero.Init; the reward's load does not.
        # a copy of the tiny model: one this process has not loaded (and shared) yet
        reward = get_perplexity_reward(str(shutil.copytree(tiny_model_dir, tmp_path / "scorer")), device="cpu")
        assert reward(prompts=["The cat", "The cat"], completions=[" sat.", " q q"]) in ([1.0, -1.0], [-1.0, 1.0])
        assert reward.scorer()[0].model.embed_tokens.weight.numel() > 0
        assert hf_deepspeed.is_deepspeed_zero3_enabled()
    finally:
        hf_deepspeed.unset_hf_deepspeed_config()


def test_registry(tiny_model_dir):
    ppl, emb = get_reward_funcs(
        ["perplexity_reward", "embedding_cosine_reward"],
        scorer_model_name_or_path=str(tiny_model_dir),
        embedding_model_name_or_path="some/encoder",
        reward_batch_size=7,
        num_generations=4,
        text_column="sentence",
        scores_column="score",
        embedding_column=None,
        device="cpu",
    )
    assert (ppl.__name__, ppl.batch_size, ppl.num_generations, ppl.device) == ("perplexity_reward", 7, 4, "cpu")
    assert (emb.__name__, emb.model_name_or_path, emb.batch_size) == ("embedding_cosine_reward", "some/encoder", 7)
    assert (emb.text_column, emb.scores_column, emb.embedding_column) == ("sentence", "score", "target_embedding")
    assert set(REWARD_FUNCS) == {
        "perplexity_reward",
        "embedding_cosine_reward",
        "prefix_match_reward",
        "rpt_prefix_reward",
    }
    assert get_reward_funcs(["rlpt_trl.rewards.inputs.reader_text"]) == [reader_text]
    (default,) = get_reward_funcs(["embedding_cosine_reward"])
    assert default.model_name_or_path == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("names", "settings", "message"),
    [
        (["fluency"], {}, "unknown reward function 'fluency' .*perplexity_reward, embedding_cosine_reward"),
        (["perplexity_reward"], {}, "perplexity_reward needs the setting scorer_model_name_or_path"),
        (["perplexity_reward"], {"scorer_model_name_or_path": None}, "needs the setting scorer_model_name_or_path"),
        (["embedding_cosine_reward"], {"beta": 0.1}, "unknown reward setting.*beta"),
        (["no_such_pkg.rewards.fn"], {}, "cannot import reward function no_such_pkg.rewards.fn"),
        (["rlpt_trl.rewards.no_such_fn"], {}, "cannot import reward function rlpt_trl.rewards.no_such_fn"),
        (["rlpt_trl.rewards.groups.ZERO_SPREAD"], {}, "is not callable"),
        (["embedding_cosine_reward"], {"reward_batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_registry_errors(names, settings, message):
    with pytest.raises(RlptError, match=message):
        get_reward_funcs(names, **settings)


@pytest.mark.parametrize(
    "encoder_fixture", ["tiny_embedding_model_dir", pytest.param("embedding_model_dir", marks=pytest.mark.slow)]
)
def test_embedding_cosine_matches_numpy(encoder_fixture, request):
    encoder_dir = request.getfixturevalue(encoder_fixture)
    embedding = get_embedding_cosine_reward(str(encoder_dir), batch_size=8, device="cpu")
    prompts, completions = PROMPTS[:6], COMPLETIONS[:6]
    texts = ["The cat sat on the mat."] * 4 + ["John runs home."] * 2
    scores = [1.0, 1.0, 0.5, 0.5, 0.0, -2.0]
    rewards = embedding(prompts=prompts, completions=completions, text=texts, scores=scores)
    encoder = SentenceTransformer(str(encoder_dir), device="cpu")
    generated = encoder.encode([p + c for p, c in zip(prompts, completions, strict=True)], normalize_embeddings=False)
    targets = encoder.encode(texts, normalize_embeddings=False)
    cosines = np.sum(generated * targets, axis=1) / np.linalg.norm(generated, axis=1) / np.linalg.norm(targets, axis=1)
    np.testing.assert_allclose(rewards, cosines * np.asarray(scores), atol=1e-5)
    assert rewards[0] == pytest.approx(1.0, abs=1e-5)
    assert set(embedding._embeddings) == set(texts)  # the targets computed from `text` are cached

    # A precomputed target column gives the same rewards and wins over the text column.
    unit = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    precomputed = embedding(
        prompts=prompts, completions=completions, text=["ignored"] * 6, target_embedding=unit.tolist(), scores=scores
    )
    np.testing.assert_allclose(precomputed, rewards, atol=1e-5)
    doubled = embedding(prompts=prompts, completions=completions, text=texts, scores=[2 * s for s in scores])
    np.testing.assert_allclose(doubled, 2 * np.asarray(rewards), atol=1e-5)


def test_embedding_cosine_conversational_and_pickling(embedding):
    prompts = [[{"role": "user", "content": "The cat"}]] * 2
    completions = [[{"role": "assistant", "content": " sat on the mat."}], [{"role": "assistant", "content": " q"}]]
    columns = {"text": ["The cat sat on the mat."] * 2, "scores": [1.0, 1.0]}
    rewards = embedding(prompts=prompts, completions=completions, **columns)
    standard = embedding(prompts=["The cat"] * 2, completions=[" sat on the mat.", " q"], **columns)
    np.testing.assert_allclose(rewards, standard, atol=1e-6)
    assert rewards[0] == pytest.approx(1.0, abs=1e-5) and rewards[1] < 1 - 1e-3
    copy = pickle.loads(pickle.dumps(embedding))
    assert copy.__name__ == "embedding_cosine_reward" and not _holds_a_model(copy) and copy._embeddings == {}
    np.testing.assert_allclose(copy(prompts=prompts, completions=completions, **columns), rewards, atol=1e-6)


@pytest.mark.slow
def test_embedding_cosine_minilm_ranks_by_meaning(embedding_model_dir):
    # Only a trained encoder tells meanings apart: the tiny random one puts every pair of texts near cosine 1.
    embedding = get_embedding_cosine_reward(str(embedding_model_dir), device="cpu")
    completions = [" sat on the mat.", " was sitting on the rug.", " q", " ate the book quickly."]
    columns = {"text": ["The cat sat on the mat."] * 4, "scores": [1.0] * 4}
    rewards = embedding(prompts=["The cat"] * 4, completions=completions, **columns)
    assert rewards[0] == pytest.approx(1.0, abs=1e-5)
    assert rewards[1] > max(rewards[2:]) and max(rewards[2:]) < 0.9


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"text": ["a", "b"]}, "needs dataset column 'scores'"),
        ({"scores": [1.0, 1.0]}, "needs dataset column 'text'"),
        ({"text": ["a", "b"], "scores": [1.0, float("nan")]}, "'scores' holds a non-finite value nan .row 1"),
        ({"text": ["a", "b"], "scores": [1.0, None]}, "'scores' holds a non-finite value None"),
        (
            {"scores": [1.0, 1.0], "target_embedding": [[1.0, 0.0]] * 2},
            f"2-dimensional vectors but .* {TINY_EMBEDDING_DIM} dim",
        ),
        (
            {"scores": [1.0, 1.0], "target_embedding": [[1.0] * TINY_EMBEDDING_DIM, [1.0]]},
            "does not hold equal-length vectors",
        ),
        ({"scores": [1.0, 1.0], "target_embedding": [[0.0] * TINY_EMBEDDING_DIM] * 2}, "zero or non-finite vector"),
    ],
)
def test_embedding_cosine_errors(embedding, columns, message):
    with pytest.raises(RlptError, match=message):
        embedding(prompts=["The", "A"], completions=[" cat.", " dog."], **columns)


def _grpo_dataset(encoder_dir: Path) -> Dataset:
    texts = ["The cat sat on the mat.", "John left early.", "Mary saw him leave.", "The dog barked."]
    encoder = SentenceTransformer(str(encoder_dir), device="cpu")
    return Dataset.from_dict(
        {
            "prompt": [" ".join(text.split()[:2]) for text in texts],
            "text": texts,
            "scores": [1.0, 1.0, 0.5, 1.0],
            "target_embedding": encoder.encode(texts, normalize_embeddings=True).tolist(),
        }
    )


@pytest.mark.filterwarnings("ignore")
def test_rewards_drive_grpo_and_rloo_trainers(tiny_model_dir, tiny_embedding_model_dir, tmp_path):
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    dataset = _grpo_dataset(tiny_embedding_model_dir)
    for trainer_class, config_class in ((GRPOTrainer, GRPOConfig), (RLOOTrainer, RLOOConfig)):
        reward_funcs = get_reward_funcs(
            ["perplexity_reward", "embedding_cosine_reward"],
            scorer_model_name_or_path=str(tiny_model_dir),
            embedding_model_name_or_path=str(tiny_embedding_model_dir),
            num_generations=2,
        )
        trainer = trainer_class(
            model=str(tiny_model_dir),
            reward_funcs=reward_funcs,
            args=config_class(output_dir=str(tmp_path / trainer_class.__name__), **TINY_RL_SETTINGS),
            train_dataset=dataset,
        )
        trainer.train()
        logged = [entry for entry in trainer.state.log_history if "rewards/perplexity_reward/mean" in entry]
        assert len(logged) == 2, trainer.state.log_history
        for entry in logged:
            assert abs(entry["rewards/perplexity_reward/mean"]) < 1e-6  # z-scores average to zero
            assert entry["rewards/perplexity_reward/perplexity"] > 1.0
        # the trainer fed the embedding reward each completion's own row (the z-scored perplexity depends on the
        # group, which the kept batch does not record)
        assert_rewards_recomputed(trainer, dataset, reward_funcs[1:], logged[-1])
