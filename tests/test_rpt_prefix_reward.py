"""RPT's prefix reward: hand cases against the tokenizer's own tokens, token boundaries against the bytes of each
token, multi-byte characters, errors, the registry, the GRPO command's tokenizer and a GRPO trainer."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from rlpt_trl import RlptError, get_reward_funcs, get_rpt_prefix_reward
from rlpt_trl.rewards import rpt_prefix_reward
from rlpt_trl.rewards.rpt_prefix import token_boundaries


PROMPT = "The cat"
TRUTH = " sat on the mat."


def byte_boundaries(tokenizer, text: str) -> set[int]:
    """RPT's definition, computed from the byte-level tokens themselves: the cumulative byte lengths of the tokens,
    those that end inside a character dropped."""
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    lengths, total = set(), 0
    for token in tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"]):
        total += len(token)  # one character per byte in the byte-level alphabet
        assert set(token) <= alphabet
        lengths.add(total)
    ends = {len(text[:end].encode()) for end in range(1, len(text) + 1)}
    return lengths & ends


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def reward_of(tiny_model_dir: Path, completion: str, truth: str = TRUTH) -> float:
    reward = get_rpt_prefix_reward(str(tiny_model_dir))
    return reward(prompts=[PROMPT], completions=[completion], text=[PROMPT + truth])[0]


def test_hand_cases(tiny_model_dir, tokenizer):
    ids = tokenizer(TRUTH, add_special_tokens=False)["input_ids"]
    first, second = (tokenizer.decode(ids[:end]) for end in (1, 2))
    assert len(first) > 2, "the first token must hold more than one character for the inside-a-token case"
    cases = {
        TRUTH: 1.0,  # exact match
        first: 1.0,  # the first token
        second: 1.0,  # a prefix ending on a boundary
        first[:-1]: 0.0,  # a prefix ending inside a token
        TRUTH + " Then": 0.0,  # longer than the true completion
        TRUTH.upper(): 0.0,  # case
        TRUTH.lstrip(): 0.0,  # the leading space is part of the bytes
        " " + TRUTH: 0.0,
        TRUTH.replace(" on", "  on"): 0.0,
        " mat.": 0.0,  # a later token is no prefix
        "": 0.0,
    }
    for completion, expected in cases.items():
        assert reward_of(tiny_model_dir, completion) == expected, repr(completion)


def test_boundaries_are_the_tokens_byte_lengths(tokenizer):
    for text in (TRUTH, " naïve café au lait", " 日本語 ok", "  two spaces\n"):
        assert token_boundaries(tokenizer, text) == byte_boundaries(tokenizer, text), text


def test_multibyte_characters(tiny_model_dir, tokenizer):
    truth = " café au lait"
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(truth, add_special_tokens=False)["input_ids"])
    # the tiny tokenizer splits é (2 bytes) into two tokens: the first ends inside the character
    assert "Ã" in tokens and "©" in tokens
    boundaries = token_boundaries(tokenizer, truth)
    assert len(" caf".encode()) + 1 not in boundaries and len(" café".encode()) in boundaries
    assert reward_of(tiny_model_dir, " café", truth) == 1.0
    assert reward_of(tiny_model_dir, " cafe", truth) == 0.0


def test_conversational_matches_standard(tiny_model_dir):
    reward = get_rpt_prefix_reward(str(tiny_model_dir))
    completions = [TRUTH, " sat", " sa", ""]
    standard = reward(prompts=[PROMPT] * 4, completions=completions, text=[PROMPT + TRUTH] * 4)
    chat = reward(
        prompts=[[{"role": "user", "content": PROMPT}]] * 4,
        completions=[[{"role": "assistant", "content": completion}] for completion in completions],
        text=[PROMPT + TRUTH] * 4,
    )
    assert chat == standard and standard[0] == 1.0 and standard[-1] == 0.0


def test_boundaries_computed_once_per_true_completion_and_pickled_without_tokenizer(tiny_model_dir):
    reward = get_rpt_prefix_reward(str(tiny_model_dir))
    values = reward(prompts=[PROMPT] * 3, completions=[TRUTH, " sat", "x"], text=[PROMPT + TRUTH] * 3)
    assert list(reward._boundaries) == [TRUTH]
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.__name__ == "rpt_prefix_reward" and copy._tokenizer is None and copy._boundaries == {}
    assert copy(prompts=[PROMPT] * 3, completions=[TRUTH, " sat", "x"], text=[PROMPT + TRUTH] * 3) == values


def test_errors(tiny_model_dir):
    with pytest.raises(RlptError, match=r"rpt_prefix_reward needs the policy's tokenizer: use get_rpt_prefix_reward"):
        rpt_prefix_reward(prompts=[PROMPT], completions=[TRUTH], text=[PROMPT + TRUTH])
    with pytest.raises(RlptError, match="rpt_prefix_reward needs dataset column 'text'"):
        get_rpt_prefix_reward(str(tiny_model_dir))(prompts=[PROMPT], completions=[TRUTH], sentence=["x"])
    with pytest.raises(RlptError, match="rpt_prefix_reward: row 0: column 'text' has nothing after its prompt"):
        get_rpt_prefix_reward(str(tiny_model_dir))(prompts=[PROMPT], completions=[TRUTH], text=[PROMPT + " "])
    with pytest.raises(RlptError, match="rpt_prefix_reward needs the setting tokenizer_name_or_path"):
        get_reward_funcs(["rpt_prefix_reward"])


def test_tokenizer_that_does_not_decode_back_is_refused():
    words = Tokenizer(models.WordLevel({"sat": 0, "on": 1, "[UNK]": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]")
    with pytest.raises(RlptError, match=r"does not decode ' sat on' back to itself"):
        token_boundaries(tokenizer, " sat on")


def test_grpo_command_gives_the_policy_tokenizer(tiny_model_dir):
    from trl import GRPOConfig

    from rlpt_trl.rewards import RewardArguments
    from rlpt_trl.trainer.reward_command import reward_settings

    settings = reward_settings(RewardArguments(), GRPOConfig(output_dir="unused", bf16=False), str(tiny_model_dir))
    (reward,) = get_reward_funcs(["rpt_prefix_reward"], **settings)
    assert reward.tokenizer_name_or_path == str(tiny_model_dir)
    assert "tokenizer_name_or_path" not in RewardArguments.__dataclass_fields__


@pytest.mark.slow
def test_smollm2_boundaries(smollm2_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir))
    # the docs' example
    assert tokenizer.tokenize(" on the mat.") == ["Ġon", "Ġthe", "Ġmat", "."]
    assert token_boundaries(tokenizer, " on the mat.") == {3, 7, 11, 12}
    for text in (" 日本語 ok", " naïve café"):
        assert token_boundaries(tokenizer, text) == byte_boundaries(tokenizer, text), text
