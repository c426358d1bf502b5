"""The tokenizer's bos / eos / pad checked against what the checkpoint declares.

transformers before 5.18 reads the SmolLM2 GGUF's tokenizer with eos as its bos, `<|im_start|>`, and no pad (so pad
becomes that eos too): a model trained or evaluated with it never sees its real end token, and nothing says so. A GGUF's own
metadata names its special tokens, so a GGUF tokenizer is corrected from it; a Hugging Face folder has no such
record, so its eos is checked against the end-of-turn token of its chat template.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

import transformers
from jinja2 import TemplateError
from transformers import PreTrainedTokenizerBase

from ..utils.errors import RlptError


logger = logging.getLogger(__name__)

# tokenizer attribute -> the GGUF metadata key of its id
GGUF_SPECIAL_TOKENS = {
    "bos_token": "tokenizer.ggml.bos_token_id",
    "eos_token": "tokenizer.ggml.eos_token_id",
    "pad_token": "tokenizer.ggml.padding_token_id",
}
_PROBE = "x7q"  # a message text no template adds by itself


def gguf_special_token_ids(path: str) -> dict[str, int]:
    """The special-token ids a GGUF file's metadata declares: tokenizer attribute -> id (those it has)."""
    from gguf import GGUFReader

    fields = GGUFReader(path).fields
    ids = {}
    for attribute, key in GGUF_SPECIAL_TOKENS.items():
        if key in fields:
            ids[attribute] = int(fields[key].contents())
    return ids


def match_special_tokens(tokenizer: PreTrainedTokenizerBase, ids: Mapping[str, int], source: str) -> list[str]:
    """Set each of the tokenizer's special tokens that differs from `ids` (attribute -> id, as the checkpoint
    `source` declares them) to the declared one, with a warning naming the transformers version; the attributes
    set."""
    fixed = []
    for attribute, token_id in ids.items():
        if getattr(tokenizer, f"{attribute}_id") == token_id:
            continue
        was = getattr(tokenizer, attribute)
        setattr(tokenizer, attribute, tokenizer.convert_ids_to_tokens(token_id))
        logger.warning(
            "transformers %s read the %s of %s as %r; set to %r (id %d) from its metadata",
            transformers.__version__, attribute, source, was, getattr(tokenizer, attribute), token_id,
        )  # fmt: skip
        fixed.append(attribute)
    return fixed


def end_of_turn_token(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """The first special or added token the chat template puts after an assistant message's text (ChatML's
    `<|im_end|>`), the token a chat model stops at; None without a chat template or when it puts none there."""
    if not tokenizer.chat_template:
        return None
    try:
        # the end of the model's own turn (a user turn may close with another token, as Mistral's [/INST])
        conversation = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": _PROBE}]
        text = tokenizer.apply_chat_template(conversation, tokenize=False)
    except (TemplateError, ValueError, TypeError):
        return None  # a template that refuses this conversation ends no turn we can read
    after = text[text.index(_PROBE) + len(_PROBE) :] if _PROBE in text else ""
    # the added tokens too: a misread eos leaves the real one out of the special tokens
    added = {token.content for token in tokenizer.added_tokens_decoder.values()}
    for token in sorted(added | set(tokenizer.all_special_tokens), key=len, reverse=True):
        if after.lstrip().startswith(token):
            return token
    return None


def check_end_token(tokenizer: PreTrainedTokenizerBase, eos_ids: Collection[int], source: str) -> None:
    """Stop with one line when the chat template's end-of-turn token is not one the model stops at (`eos_ids`: the
    tokenizer's eos and the generation config's), as in a folder written by a transformers that misread a GGUF."""
    end = end_of_turn_token(tokenizer)
    if end is None:
        return
    end_id = tokenizer.convert_tokens_to_ids(end)
    if end_id not in {tokenizer.eos_token_id, *eos_ids}:
        raise RlptError(
            f"{source}: the chat template ends a turn with {end!r} (id {end_id}) but the tokenizer's eos is "
            f"{tokenizer.eos_token!r} (id {tokenizer.eos_token_id}) and generation stops at {sorted(set(eos_ids))}; "
            f"re-import it with transformers >= 5.18 (this is {transformers.__version__}) or fix eos_token in its "
            "tokenizer_config.json"
        )
