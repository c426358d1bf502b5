"""A data build checked against the policy before the model loads: cut with the policy's tokenizer, prompts that fit
its positions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.dataset_folder import build_stats
from ..models.loading import load_tokenizer, max_positions, tokenizer_fingerprint
from ..utils.errors import RlptError


if TYPE_CHECKING:
    from datasets import Dataset


def check_policy_fit(
    dataset: Dataset, dataset_name: str, policy: str, new_tokens: int = 0, trust_remote_code: bool = False
) -> None:
    """One error line when `dataset` was cut with another tokenizer than `policy`'s (its prompts end at that
    tokenizer's token boundaries, not the policy's), or when its longest prompt with `new_tokens` generated tokens
    does not fit the policy's positions."""
    tokenizer = load_tokenizer(policy, trust_remote_code=trust_remote_code)
    built = build_stats(dataset_name).get("tokenizer")  # none from a Hub dataset or an older build
    if built is not None and built.get("fingerprint") != tokenizer_fingerprint(tokenizer):
        raise RlptError(
            f"dataset {dataset_name} was cut with the tokenizer of {built.get('name')}, not with {policy}'s; rebuild "
            f"it with `rlpt-trl data --tokenizer_name_or_path {policy}`"
        )
    limit = max_positions(policy, trust_remote_code)
    if not limit or "prompt" not in dataset.column_names or len(dataset) == 0:
        return
    lengths = [len(ids) for ids in tokenizer(list(dataset["prompt"]), add_special_tokens=False)["input_ids"]]
    row = max(range(len(lengths)), key=lengths.__getitem__)
    if lengths[row] + new_tokens > limit:
        raise RlptError(
            f"dataset {dataset_name}: the prompt of row {row} is {lengths[row]} tokens, with {new_tokens} new tokens "
            f"past the {limit} positions of {policy}; rebuild the data with a lower --max_text_tokens"
        )
