"""The rewards that stopping cannot win: the embedding reward's prompt baseline and completion comparison, the score
switch, and the prefix-match reward; values against independent computations, columns, caching, pickling, trainers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from training_checks import TINY_RL_SETTINGS, assert_rewards_recomputed

from rlpt_trl import (
    RlptError,
    get_embedding_cosine_reward,
    get_prefix_match_reward,
    get_reward_funcs,
    get_rpt_prefix_reward,
)
from rlpt_trl.rewards.prefix_match import prefix_match


PROMPTS = ["The cat", "The cat", "The cat", "John", "John", "Mary saw"]
COMPLETIONS = [" sat on the mat.", "", " ate the rug", " runs home.", "  ", " him leave."]
TEXTS = ["The cat sat on the mat."] * 3 + ["John runs home quickly."] * 2 + ["Mary saw him leave."]
SCORES = [1.0, 1.0, 1.0, 0.5, 0.5, -1.0]
COLUMNS = {"text": TEXTS, "scores": SCORES}


@pytest.fixture(scope="module")
def encoder(tiny_embedding_model_dir: Path) -> SentenceTransformer:
    return SentenceTransformer(str(tiny_embedding_model_dir), device="cpu")


def unit(encoder: SentenceTransformer, texts: list[str]) -> np.ndarray:
    vectors = encoder.encode(texts, normalize_embeddings=False).astype(np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def cosines(encoder: SentenceTransformer, left: list[str], right: list[str]) -> np.ndarray:
    return np.sum(unit(encoder, left) * unit(encoder, right), axis=1)


def make(model_dir: Path, **kwargs):
    return get_embedding_cosine_reward(str(model_dir), batch_size=4, device="cpu", **kwargs)


def test_prompt_baseline_matches_numpy(tiny_embedding_model_dir, encoder):
    reward = make(tiny_embedding_model_dir, baseline="prompt")
    assert reward.__name__ == "embedding_cosine_reward_prompt_baseline"
    values = reward(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
    joint = [p + c for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]
    expected = (cosines(encoder, joint, TEXTS) - cosines(encoder, PROMPTS, TEXTS)) * np.asarray(SCORES)
    expected[[1, 4]] = 0.0  # blank completions add nothing
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert values[1] == 0.0 and values[4] == 0.0
    # the true completion earns what the prompt lacked of the sentence
    assert values[0] == pytest.approx((1 - cosines(encoder, ["The cat"], [TEXTS[0]])[0]) * SCORES[0], abs=1e-5)
    # prompt embeddings are computed once per distinct prompt (with the sentences), and reused
    assert set(reward._embeddings) == set(PROMPTS) | set(TEXTS)
    encoded, encode = [], reward._encode
    reward._encode = lambda texts: encoded.extend(texts) or encode(texts)
    np.testing.assert_allclose(reward(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS), values, atol=1e-6)
    assert sorted(encoded) == sorted(p + c for p, c in zip(PROMPTS, COMPLETIONS, strict=True) if c.strip())


def test_seed_reward_unchanged_for_blank_completions(tiny_embedding_model_dir, encoder):
    # the default keeps the seed's design: a blank completion is paid for its prompt's meaning
    values = make(tiny_embedding_model_dir)(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
    joint = [p + c for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]
    np.testing.assert_allclose(values, cosines(encoder, joint, TEXTS) * np.asarray(SCORES), atol=1e-5)
    assert values[1] != 0.0


def test_completion_comparison_matches_numpy(tiny_embedding_model_dir, encoder):
    reward = make(tiny_embedding_model_dir, compare="completion")
    assert reward.__name__ == "embedding_cosine_reward_completion"
    values = reward(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
    truths = [text[len(prompt) :] for prompt, text in zip(PROMPTS, TEXTS, strict=True)]
    expected = cosines(encoder, [c or "-" for c in COMPLETIONS], truths) * np.asarray(SCORES)
    expected[[1, 4]] = 0.0
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert values[0] == pytest.approx(1.0, abs=1e-5)  # the true completion itself
    # the data build's completion_embedding column gives the same values without the text
    stored = {"completion_embedding": unit(encoder, truths).tolist(), "scores": SCORES}
    np.testing.assert_allclose(reward(prompts=PROMPTS, completions=COMPLETIONS, **stored), values, atol=1e-5)


def test_scale_by_score_off_reads_no_scores(tiny_embedding_model_dir, encoder):
    reward = make(tiny_embedding_model_dir, compare="completion", scale_by_score=False)
    assert reward.__name__ == "embedding_cosine_reward_completion_unscaled"
    values = reward(prompts=PROMPTS, completions=COMPLETIONS, text=TEXTS)
    scaled = make(tiny_embedding_model_dir, compare="completion")(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
    np.testing.assert_allclose(np.asarray(values) * np.asarray(SCORES), scaled, atol=1e-6)
    plain = make(tiny_embedding_model_dir, scale_by_score=False)(prompts=PROMPTS, completions=COMPLETIONS, text=TEXTS)
    joint = [p + c for p, c in zip(PROMPTS, COMPLETIONS, strict=True)]
    np.testing.assert_allclose(plain, cosines(encoder, joint, TEXTS), atol=1e-5)


@pytest.mark.parametrize(
    ("generated", "true", "expected"),
    [
        (" On the rug.", " on the mat.", 2 / 3),
        (" on the mat.", " on the mat.", 1.0),
        (" on the mat, then slept", " on the mat.", 1.0),  # words past the true completion are not scored
        ("", " on the mat.", 0.0),
        ("   ", " on the mat.", 0.0),
        (" the mat", " on the mat.", 0.0),  # in order from the first word
        (" ON", " on the mat.", 1 / 3),
        (" , on", " , on the", 2 / 3),  # a word of punctuation only is a word
    ],
)
def test_prefix_match_values(generated, true, expected):
    assert prefix_match(generated, true) == pytest.approx(expected)
    prompt = "The cat sat"
    reward = get_prefix_match_reward()
    assert reward(prompts=[prompt], completions=[generated], text=[prompt + true]) == pytest.approx([expected])


def test_conversational_inputs_match_standard(tiny_embedding_model_dir):
    chat_prompts = [[{"role": "user", "content": prompt}] for prompt in PROMPTS]
    chat_completions = [[{"role": "assistant", "content": completion}] for completion in COMPLETIONS]
    rewards = [
        make(tiny_embedding_model_dir, baseline="prompt"),
        make(tiny_embedding_model_dir, compare="completion"),
        get_prefix_match_reward(),
    ]
    for reward in rewards:
        standard = reward(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
        chat = reward(prompts=chat_prompts, completions=chat_completions, **COLUMNS)
        np.testing.assert_allclose(chat, standard, atol=1e-6)


def test_pickling_keeps_name_and_values(tiny_embedding_model_dir):
    for reward in (make(tiny_embedding_model_dir, baseline="prompt"), get_prefix_match_reward()):
        values = reward(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS)
        copy = pickle.loads(pickle.dumps(reward))
        assert copy.__name__ == reward.__name__
        np.testing.assert_allclose(copy(prompts=PROMPTS, completions=COMPLETIONS, **COLUMNS), values, atol=1e-6)
    copy = pickle.loads(pickle.dumps(make(tiny_embedding_model_dir, baseline="prompt")))
    assert not any(isinstance(value, torch.nn.Module) for value in vars(copy).values()) and copy._embeddings == {}


def test_required_columns(tiny_embedding_model_dir):
    built = ["prompt", "text", "scores", "target_embedding", "completion_embedding"]
    cases = [
        (make(tiny_embedding_model_dir), built, ["scores", "target_embedding"]),
        (make(tiny_embedding_model_dir), ["prompt", "text", "scores"], ["scores", "text"]),
        (make(tiny_embedding_model_dir, baseline="prompt"), built, ["scores", "target_embedding"]),
        (make(tiny_embedding_model_dir, compare="completion"), built, ["scores", "completion_embedding"]),
        (make(tiny_embedding_model_dir, compare="completion", scale_by_score=False), ["prompt", "text"], ["text"]),
        (get_prefix_match_reward(text_column="sentence"), built, ["sentence"]),
    ]
    for reward, columns, required in cases:
        assert reward.required_columns(columns) == required, reward.__name__


@pytest.mark.parametrize(
    ("kwargs", "columns", "message"),
    [
        (
            {"compare": "completion"},
            {"text": ["The cat sat.", "Dogs bark."], "scores": [1.0, 1.0]},
            "embedding_cosine_reward_completion: row 1: column 'text' .'Dogs bark.'. does not start with its prompt",
        ),
        (None, {"text": ["The cat sat.", "The dog "]}, "prefix_match_reward: row 1: column 'text' has nothing after"),
        (None, {"sentence": ["The cat sat.", "The dog ran."]}, "prefix_match_reward needs dataset column 'text'"),
        ({"baseline": "prompt"}, {"text": ["The cat sat.", "The dog ran."]}, "needs dataset column 'scores'"),
    ],
)
def test_variant_errors_name_the_row_or_column(tiny_embedding_model_dir, kwargs, columns, message):
    reward = get_prefix_match_reward() if kwargs is None else make(tiny_embedding_model_dir, **kwargs)
    with pytest.raises(RlptError, match=message):
        reward(prompts=["The cat", "The dog"], completions=[" sat.", " ran."], **columns)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": "mean"}, "baseline must be None or 'prompt', got 'mean'"),
        ({"compare": "text"}, "compare must be one of sentence, completion, got 'text'"),
        ({"baseline": "prompt", "compare": "completion"}, "applies to compare='sentence' only"),
    ],
)
def test_variant_settings_checked(kwargs, message):
    with pytest.raises(RlptError, match=message):
        get_embedding_cosine_reward("unused/encoder", **kwargs)


def test_registry_builds_the_variants(tiny_embedding_model_dir):
    embedding, prefix = get_reward_funcs(
        ["embedding_cosine_reward", "prefix_match_reward"],
        embedding_model_name_or_path=str(tiny_embedding_model_dir),
        embedding_baseline="prompt",
        scale_by_score=False,
        text_column="sentence",
    )
    assert (embedding.baseline, embedding.scale_by_score, embedding.text_column) == ("prompt", False, "sentence")
    assert (prefix.__name__, prefix.text_column) == ("prefix_match_reward", "sentence")
    (completion,) = get_reward_funcs(
        ["embedding_cosine_reward"], embedding_compare="completion", completion_embedding_column="truth"
    )
    assert (completion.compare, completion.completion_embedding_column) == ("completion", "truth")


@pytest.mark.filterwarnings("ignore")
def test_variants_drive_grpo_trainer(tiny_model_dir, tiny_embedding_model_dir, encoder, tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    texts = ["The cat sat on the mat.", "John left early.", "Mary saw him leave.", "The dog barked."]
    prompts = [" ".join(text.split()[:2]) for text in texts]
    dataset = Dataset.from_dict(
        {
            "prompt": prompts,
            "text": texts,
            "scores": [1.0, 1.0, 0.5, 1.0],
            "target_embedding": unit(encoder, texts).tolist(),
            "completion_embedding": unit(encoder, [t[len(p) :] for p, t in zip(prompts, texts, strict=True)]).tolist(),
        }
    )
    reward_funcs = [
        make(tiny_embedding_model_dir, baseline="prompt"),
        make(tiny_embedding_model_dir, compare="completion"),
        get_prefix_match_reward(),
        get_rpt_prefix_reward(str(tiny_model_dir)),
    ]
    config = GRPOConfig(output_dir=str(tmp_path), **TINY_RL_SETTINGS)
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=reward_funcs, args=config, train_dataset=dataset)
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "rewards/prefix_match_reward/mean" in entry]
    assert len(logged) == 2, trainer.state.log_history
    # each variant got each completion's own row: recomputed from the last batch, its rewards and mean agree
    assert_rewards_recomputed(trainer, dataset, reward_funcs, logged[-1])
