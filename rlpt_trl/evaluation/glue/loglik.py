"""Multiple-choice log-likelihood scoring, as lm-evaluation-harness defines it.

A choice's score is the summed log-probability of its continuation `" " + choice` given the prompt, with the
continuation's tokens taken from the tokenisation of the whole `prompt + " " + choice` past the prompt's own tokens.
Every continuation of a prompt whose tokens agree except for the last is read from one sequence
(`prompt + continuation[:-1]`): single-token choices cost one forward per prompt, keeping only the last position's
logits (`logits_to_keep=1`), and STS-B's " 0".." 5" (a space token, then a digit) one forward of the prompt plus
the space.

A label with several words scores `logsumexp` of its words' log-likelihoods, the log-probability that the model
continues with any of them; the prediction is the best label. For a regression task the labels' probabilities,
renormalised over the labels, weight the score values into an expected score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.special import logsumexp, softmax
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ...utils.errors import RlptError
from .prefix_cache import PrefixBatches
from .spec import GlueTaskSpec


def continuation_tokens(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], continuations: Sequence[str]
) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Token ids of each prompt and of each `" " + continuation` after it (`[prompt][continuation]`)."""
    contexts = tokenizer(list(prompts))["input_ids"]
    wholes = tokenizer([f"{prompt} {choice}" for prompt in prompts for choice in continuations])["input_ids"]
    tails = []
    for row, context in enumerate(contexts):
        row_wholes = wholes[row * len(continuations) : (row + 1) * len(continuations)]
        tails.append([whole[len(context) :] for whole in row_wholes])
        for choice, tail in zip(continuations, tails[-1], strict=True):
            if not tail:
                raise RlptError(f"the answer {choice!r} encodes to no tokens after the prompt with this tokenizer")
    return contexts, tails


@torch.inference_mode()
def score_continuations(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    continuations: Sequence[str],
    *,
    batch_size: int = 32,
    desc: str | None = None,
    shared_prefix: str = "",
) -> np.ndarray:
    """Summed log-probabilities of `" " + continuation` after each prompt, shape `(len(prompts), len(continuations))`.

    Args:
        desc: Progress bar label; None hides the bar.
        shared_prefix: Text every prompt starts with (the few-shot examples): its key/value cache is computed once
            and reused (`rlpt_trl.evaluation.glue.prefix_cache`); "" computes every prompt whole.
    """
    contexts, tails = continuation_tokens(tokenizer, prompts, continuations)
    # one sequence per distinct (prompt, continuation minus its last token); each lists the continuations read from it
    sequences: dict[tuple[int, tuple[int, ...]], list[tuple[int, int]]] = {}
    for row, row_tails in enumerate(tails):
        for column, tail in enumerate(row_tails):
            sequences.setdefault((row, tuple(tail[:-1])), []).append((row, column))
    keys = list(sequences)
    token_lists = [contexts[row] + list(prefix) for row, prefix in keys]
    scores = np.zeros((len(prompts), len(continuations)), dtype=np.float64)
    batches = PrefixBatches(model, tokenizer, token_lists, shared_prefix, batch_size)
    for batch in tqdm(batches, desc=desc, disable=desc is None, unit="batch"):
        # the last continuation token is predicted at the last column, its first one `len(tail)` columns earlier
        keep = max(len(keys[i][1]) for i in batch) + 1
        logits = model(**batches.forward_inputs(batch), logits_to_keep=keep).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        # one gather for every continuation token read from this batch, then a sum per (prompt, continuation)
        batch_rows, positions, tokens, targets = [], [], [], []
        for batch_row, index in enumerate(batch):
            for row, column in sequences[keys[index]]:
                tail = tails[row][column]
                batch_rows += [batch_row] * len(tail)
                positions += range(keep - len(tail), keep)
                tokens += tail
                targets += [row * len(continuations) + column] * len(tail)
        picked = logprobs[torch.tensor(batch_rows), torch.tensor(positions), torch.tensor(tokens)]
        np.add.at(scores.reshape(-1), targets, picked.double().cpu().numpy())
    return scores


def predict_from_scores(spec: GlueTaskSpec, scores: np.ndarray) -> np.ndarray:
    """Predictions from `(n, len(spec.choices))` log-likelihoods: the best label, or the expected score."""
    bounds = np.cumsum([0] + [len(words) for words in spec.label_words])
    label_scores = np.stack(
        [logsumexp(scores[:, a:b], axis=1) for a, b in zip(bounds[:-1], bounds[1:], strict=True)], axis=1
    )
    if spec.score_values is None:
        return label_scores.argmax(axis=1)
    return softmax(label_scores, axis=1) @ np.asarray(spec.score_values, dtype=np.float64)
