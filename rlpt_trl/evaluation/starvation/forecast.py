"""The exact probability that one sampled token earns RPT's reward, and seeded samples that check it.

With one-token completions, GRPO decodes each completion on its own, special tokens skipped, and RPT's reward
(`rlpt_trl.rewards.rpt_prefix`) pays 1 when that text is a prefix of the true completion ending on one of its token
boundaries. The tokens that earn it after a prompt are therefore a fixed set, and one sample at temperature T earns it
with probability p = the softmax(logits / T) mass of that set (TRL's sampling defaults, top-p 1, top-k 0, no min-p,
leave the softmax untouched). K independent samples all earn the same reward with probability p^K + (1 - p)^K: the
chance that the prompt's group gives GRPO no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ...models.likelihood import next_token_logits
from ...rewards.rpt_prefix import rpt_prefix, token_boundaries
from ..next_segment.sampling import GumbelMax


def zero_variance_probability(hit_probability: np.ndarray, group_size: int) -> np.ndarray:
    """The probability that `group_size` independent samples, each earning a binary reward with probability
    `hit_probability`, all earn the same reward."""
    p = np.asarray(hit_probability, dtype=np.float64)
    return p**group_size + (1.0 - p) ** group_size


def lone_decodes(tokenizer: PreTrainedTokenizerBase, vocab_size: int) -> list[str]:
    """The text each of the first `vocab_size` token ids decodes to on its own, as GRPO decodes a one-token completion
    (special tokens skipped); "" for ids past the tokenizer's vocabulary (rows of an embedding padded beyond it)."""
    known = min(vocab_size, len(tokenizer))
    texts = tokenizer.batch_decode([[token] for token in range(known)], skip_special_tokens=True)
    return texts + [""] * (vocab_size - known)


def hit_tokens(decodes: dict[str, list[int]], true_completion: str, boundaries: frozenset[int]) -> list[int]:
    """The tokens whose lone decode (`decodes`: text -> tokens) earns `rpt_prefix` against `true_completion`: those
    that decode to its first `b` bytes, for each token boundary `b`."""
    encoded = true_completion.encode("utf-8")
    return [token for end in sorted(boundaries) for token in decodes.get(encoded[:end].decode("utf-8"), [])]


@dataclass
class Hits:
    """For each prompt: `probability`, the exact chance that one sample earns the reward, and `sampled`, whether each
    of K seeded samples did (`(n, K)`, 0 or 1)."""

    probability: np.ndarray
    sampled: np.ndarray


@torch.inference_mode()
def next_token_hits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    true_completions: Sequence[str],
    *,
    keys: Sequence[int],
    temperature: float,
    num_samples: int,
    seed: int,
    batch_size: int = 16,
) -> Hits:
    """The exact one-sample hit probability of RPT's reward after each prompt (at `temperature`), and `num_samples`
    one-token samples of each, drawn as the next-segment evaluation draws its first tokens (Gumbel noise keyed by
    `(seed, keys[i], sample)`), each scored by `rpt_prefix` on its decoded text: an independent check of the sum."""
    vocab = model.get_output_embeddings().weight.shape[0]
    texts = lone_decodes(tokenizer, vocab)
    decodes: dict[str, list[int]] = {}
    for token, text in enumerate(texts):
        if text:
            decodes.setdefault(text, []).append(token)
    boundaries = [token_boundaries(tokenizer, completion) for completion in true_completions]
    probability = np.zeros(len(prompts))
    sampled = np.zeros((len(prompts), num_samples))
    for batch, logits in next_token_logits(model, tokenizer, prompts, batch_size):
        # float64: a sum of many small probabilities, compared with sample shares to 1e-3
        probabilities = torch.softmax(logits.double() / temperature, dim=-1).cpu()
        for row, index in enumerate(batch):
            hits = hit_tokens(decodes, true_completions[index], boundaries[index])
            probability[index] = float(probabilities[row, hits].sum()) if hits else 0.0
        rows = [(keys[index], sample) for index in batch for sample in range(num_samples)]
        noise = GumbelMax(rows, seed=seed, temperature=temperature)
        tokens = noise(logits.repeat_interleave(num_samples, dim=0), 0).tolist()
        for number, token in enumerate(tokens):
            index = batch[number // num_samples]
            reward = rpt_prefix(texts[token], true_completions[index], boundaries[index])
            sampled[index, number % num_samples] = reward
    return Hits(probability, sampled)
