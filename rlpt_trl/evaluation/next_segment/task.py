"""The next-segment evaluation: how well a model continues held-out sentences from their first tokens, the skill GRPO
trains on the data build's prompt / completion rows (`rlpt_trl.data.build`).

Each held-out sentence is cut into a prompt and its true completion as the data build cuts training sentences; the
model draws K seeded samples and one greedy continuation of each prompt (`next_segment_sampling`), and each is scored
against the sentence. Per-prompt values (the task's metrics are their means over the prompts):

- `cosine_sentence`: cos(embed(prompt + sample), embed(text)), mean over the K samples;
- `cosine_prompt_only`: cos(embed(prompt), embed(text)), the same for every model; `cosine_gain`: the difference;
- `cosine_completion`: cos(embed(sample), embed(true completion)), 0 for a blank sample;
- `reward`: the training reward, the weighted sum of the run's rewards fed as GRPOTrainer feeds them from a data
  build (prompts, completions, the `text`, `scores`, `target_embedding` and `completion_embedding` columns, the K
  samples of a prompt as one group): the rewards a trained model's folder records (`rlpt_rewards.json`), else the
  `--reward_funcs` flags, else `embedding_cosine_reward`, cos(embed(prompt + sample), embed(text)) x score;
- `next_word_accuracy` / `greedy_next_word_accuracy`: share of the samples / whether the greedy continuation starts
  with the true completion's first word (lower-cased, surrounding punctuation stripped);
- `completion_log_perplexity`: mean NLL (nats/token) of each sample under the frozen scorer LM; a blank sample has
  none and is left out of its prompt's mean (nanmean), a prompt with only blank samples out of the task's mean;
- `true_completion_nll`: the evaluated model's own mean NLL (nats/token) of the true completion given the prompt;
- `distinct_1` / `distinct_2`: distinct / all word n-grams over the K samples (a prompt without any is left out);
- `empty_rate`: share of blank samples (no visible character); `mean_new_tokens`: tokens generated before eos;
- `cut_entropy`: the scorer LM's entropy over its 16 most likely next tokens after the prompt (RPT's difficulty, its
  proxy model's), the same for every model;
- `first_token_nll`: the evaluated model's NLL (nats, temperature 1) of the true completion's first token (NaN where
  the true completion's tokens do not follow the prompt's);
- `next_token_pass_at_k`: whether any of the K samples' first token is the true completion's first token;
- `next_token_accuracy`: share of the samples whose first token is the true completion's first token;
  `greedy_next_token_accuracy`: whether the greedy continuation's is (NaN where the true completion's tokens do not
  follow the prompt's); with `_easy`, `_medium`, `_hard`: on the cuts whose `cut_entropy` reaches 0.5, 1.0, 1.5 (RPT's
  thresholds, nested sets), NaN elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ...models.embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized
from ...models.likelihood import completion_nll, completion_tokens, next_token_entropies
from ...models.shared import shared_encoder
from ...rewards import EmbeddingCosineReward, PerplexityReward
from ...rewards.embedding_cosine import unit_cosines
from ...rewards.run_config import RewardConfig, weighted_rewards
from ...utils.files import json_number
from .prompts import NextSegmentPrompts
from .result import TASK, NextSegmentResult, difficulty, distinct_n, first_word, record_values
from .sampling import Continuations, sample_completions


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class NextSegmentScorers:
    """The frozen models that score every evaluated model (`load`): the sentence encoder, the training rewards
    (`reward_config`, built on the same encoder and scorer LM), and the perplexity reward whose `log_perplexities` is
    the scorer LM.

    Embeddings, scorer NLLs and the scorer's entropy after each prompt are cached by text: models that draw the same
    samples (frequent under the shared random numbers) are scored once, and the prompts' entropy is computed once.
    """

    embedding_model: SentenceTransformer
    embedding_model_name_or_path: str
    rewards: list
    reward_config: RewardConfig
    perplexity: PerplexityReward
    batch_size: int = 64
    _embeddings: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _nll: dict[tuple[str, str], float] = field(default_factory=dict, init=False, repr=False)
    _entropy: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def load(
        cls,
        scorer_model_name_or_path: str,
        embedding_model_name_or_path: str = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 64,
        reward_config: RewardConfig | None = None,
        num_samples: int = 4,
    ) -> NextSegmentScorers:
        """The process's shared encoder `embedding_model_name_or_path` and scorer LM `scorer_model_name_or_path`
        (usually the run's first model; `rlpt_trl.models.shared`) on `device` (`"auto"`: this process's accelerate
        device), the scorer LM in `dtype` (`"auto"`: `evaluation_dtype`), and the rewards of `reward_config` (default
        `embedding_cosine_reward`) on these models, grouping each prompt's `num_samples` samples."""
        perplexity = PerplexityReward(scorer_model_name_or_path, batch_size=batch_size, device=device, dtype=dtype)
        perplexity.scorer()  # loads it now: a bad path fails before any model is evaluated
        config = reward_config or RewardConfig(["embedding_cosine_reward"])
        rewards = config.build(
            scorer_model_name_or_path=scorer_model_name_or_path,
            embedding_model_name_or_path=embedding_model_name_or_path,
            tokenizer_name_or_path=scorer_model_name_or_path,
            scorer_dtype=dtype,
            reward_batch_size=batch_size,
            device=device,
            num_generations=num_samples,
        )
        config.weights()  # one weight per reward, checked before any model is evaluated
        encoder = shared_encoder(embedding_model_name_or_path, device)
        return cls(encoder, str(embedding_model_name_or_path), rewards, config, perplexity, batch_size)

    def __post_init__(self) -> None:
        # the embedding rewards are computed on the texts the metrics embed: from the same cache
        for reward in self.rewards:
            if isinstance(reward, EmbeddingCosineReward):
                reward.encode_with(self.embed)

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised embeddings of `texts`, one row each."""
        missing = list(dict.fromkeys(text for text in texts if text not in self._embeddings))
        if missing:
            encoded = encode_normalized(self.embedding_model, missing, self.batch_size)
            self._embeddings.update(zip(missing, encoded, strict=True))
        return np.stack([self._embeddings[text] for text in texts])

    def log_perplexities(self, prompts: list[str], completions: list[str]) -> np.ndarray:
        """The scorer LM's mean NLL (nats/token) of each completion given its prompt."""
        pairs = list(zip(prompts, completions, strict=True))
        missing = list(dict.fromkeys(pair for pair in pairs if pair not in self._nll))
        if missing:
            values = self.perplexity.log_perplexities([prompt for prompt, _ in missing], [text for _, text in missing])
            self._nll.update(zip(missing, values.tolist(), strict=True))
        return np.array([self._nll[pair] for pair in pairs], dtype=np.float64)

    def cut_entropies(self, prompts: list[str]) -> np.ndarray:
        """The scorer LM's `top_k_entropy` of the token after each prompt."""
        missing = list(dict.fromkeys(prompt for prompt in prompts if prompt not in self._entropy))
        if missing:
            model, tokenizer = self.perplexity.scorer()
            values = next_token_entropies(model, tokenizer, missing, self.batch_size)
            self._entropy.update(zip(missing, values.tolist(), strict=True))
        return np.array([self._entropy[prompt] for prompt in prompts], dtype=np.float64)

    def remember(self, log_perplexities: dict[tuple[str, str], float], entropies: dict[str, float]) -> None:
        """Scorer LM NLLs of (prompt, sample) pairs and its entropies after prompts computed elsewhere: by the scorer
        LM itself, evaluated as a model (its own generation's log-probabilities and logits), so that they are not
        computed again."""
        self._nll.update(log_perplexities)
        self._entropy.update(entropies)


def _own_log_perplexities(
    tokenizer: PreTrainedTokenizerBase, prompts: NextSegmentPrompts, drawn: Continuations
) -> dict[tuple[str, str], float]:
    """The mean NLL of each non-blank sample from the log-probabilities its generation computed: the teacher-forced
    value wherever the sample's text tokenizes back, after its prompt, to the generated tokens (elsewhere the scorer
    computes it)."""
    pairs, generated = [], []
    for row, (samples, tokens, logprobs) in enumerate(zip(drawn.samples, drawn.tokens, drawn.logprobs, strict=True)):
        for sample, sample_tokens, sample_logprobs in zip(samples, tokens, logprobs, strict=True):
            if sample.strip() and sample_tokens:
                pairs.append((prompts.prompt[row], sample))
                generated.append((sample_tokens, sample_logprobs))
    prompt_ids = tokenizer([prompt for prompt, _ in pairs])["input_ids"]
    scored = completion_tokens(tokenizer, [prompt for prompt, _ in pairs], [sample for _, sample in pairs])
    return {
        pair: -float(np.mean(logprobs))
        for pair, own_prompt, (ids, start), (tokens, logprobs) in zip(
            pairs, prompt_ids, scored, generated, strict=True
        )
        if start == len(own_prompt) and ids == own_prompt + tokens
    }


def _training_reward(
    scorers: NextSegmentScorers,
    prompts: NextSegmentPrompts,
    rows: np.ndarray,
    samples: list[str],
    targets: np.ndarray,
    completions: np.ndarray,
) -> np.ndarray:
    """The weighted training reward of each sample (of prompt `rows[j]`; each prompt's samples consecutive, one
    group), every reward given the columns a data build holds under the names its settings read."""
    settings = {"text_column": "text", "scores_column": "scores", "embedding_column": "target_embedding"}
    settings |= {"completion_embedding_column": "completion_embedding"}
    names = {setting: scorers.reward_config.settings.get(setting) or column for setting, column in settings.items()}
    columns = {
        names["text_column"]: [prompts.text[row] for row in rows],
        names["scores_column"]: [prompts.score[row] for row in rows],
        names["embedding_column"]: targets[rows],
        names["completion_embedding_column"]: completions[rows],
    }
    own_prompts = [prompts.prompt[row] for row in rows]
    per_reward = [reward(prompts=own_prompts, completions=samples, **columns) for reward in scorers.rewards]
    return np.array(weighted_rewards(per_reward, scorers.reward_config.weights()), dtype=np.float64)


def _sample_scores(
    prompts: NextSegmentPrompts, samples: list[list[str]], truth: list[str | None], scorers: NextSegmentScorers
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each sample's scores (name -> `(n, K)` array) and `cosine_prompt_only` (one value a prompt); `truth` holds the
    true completions' first words."""
    n, k = len(samples), len(samples[0])
    rows = np.repeat(np.arange(n), k)
    flat = [sample for row in samples for sample in row]
    joint = [prompts.prompt[row] + sample for row, sample in zip(rows, flat, strict=True)]
    embedded = scorers.embed([*prompts.text, *prompts.prompt, *prompts.completion, *joint, *flat])
    texts, prompt_only, completions, joints, sampled = np.split(embedded, np.cumsum([n, n, n, n * k]))
    blank = np.array([not sample.strip() for sample in flat])
    log_perplexity = np.full(n * k, np.nan)
    kept = np.flatnonzero(~blank)
    log_perplexity[kept] = scorers.log_perplexities([prompts.prompt[rows[j]] for j in kept], [flat[j] for j in kept])
    scores = {
        "cosine_sentence": unit_cosines(joints, texts[rows]),
        "cosine_completion": np.where(blank, 0.0, unit_cosines(sampled, completions[rows])),
        "reward": _training_reward(scorers, prompts, rows, flat, texts, completions),
        "next_word_correct": [
            truth[row] is not None and first_word(s) == truth[row] for row, s in zip(rows, flat, strict=True)
        ],
        "completion_log_perplexity": log_perplexity,
    }
    per_sample = {name: np.asarray(value, dtype=np.float64).reshape(n, k) for name, value in scores.items()}
    return per_sample, unit_cosines(prompt_only, texts)


def _next_token_correct(drawn: Continuations) -> tuple[np.ndarray, np.ndarray]:
    """Whether each sample's (`(n, K)`) and each greedy continuation's (`(n,)`) first token is the true completion's
    first token: 1.0 or 0.0 (a blank continuation is wrong), NaN where the true completion has no tokens of its own."""
    firsts = [truth[0] if truth else None for truth in drawn.true_tokens]
    samples = np.array(
        [
            [np.nan if first is None else float(tokens[:1] == [first]) for tokens in row]
            for first, row in zip(firsts, drawn.tokens, strict=True)
        ],
        dtype=np.float64,
    )
    greedy = np.array(
        [
            np.nan if first is None else float(tokens[:1] == [first])
            for first, tokens in zip(firsts, drawn.greedy_tokens, strict=True)
        ],
        dtype=np.float64,
    )
    return samples, greedy


def evaluate_next_segment(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: NextSegmentPrompts,
    *,
    scorers: NextSegmentScorers,
    num_samples: int = 4,
    temperature: float = 0.9,
    max_new_tokens: int = 4,
    seed: int = 0,
    batch_size: int = 16,
    scored_by_model: bool = False,
) -> NextSegmentResult:
    """Sample continuations of every prompt with `model` and score them (the metrics of the module docstring).

    Args:
        scorers: The frozen scoring models, loaded once per run and shared by every evaluated model.
        batch_size: Prompts per generation batch (each holds `num_samples + 1` rows a prompt), and sequences per
            forward pass of the scorer LM.
        scored_by_model: `model` is the scorer LM (the same checkpoint in the same dtype): the samples'
            `completion_log_perplexity` comes from the log-probabilities its generation computed.
    """
    drawn = sample_completions(
        model,
        tokenizer,
        prompts.prompt,
        keys=prompts.idx,
        num_samples=num_samples,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        seed=seed,
        batch_size=batch_size,
        true_completions=prompts.completion,
    )
    samples, greedy, new_tokens = drawn.samples, drawn.greedy, drawn.new_tokens
    if scored_by_model:
        entropies = dict(zip(prompts.prompt, drawn.cut_entropy.tolist(), strict=True))
        scorers.remember(_own_log_perplexities(tokenizer, prompts, drawn), entropies)
    cut_entropy = scorers.cut_entropies(prompts.prompt)
    token_correct, greedy_token_correct = _next_token_correct(drawn)
    truth = [first_word(completion) for completion in prompts.completion]
    per_sample, cosine_prompt = _sample_scores(prompts, samples, truth, scorers)
    true_nll = drawn.true_nll
    # a true completion whose tokens do not follow its prompt's is scored whole
    whole = np.flatnonzero(np.isnan(true_nll))
    if whole.size:
        true_nll[whole] = completion_nll(
            model,
            tokenizer,
            [prompts.prompt[i] for i in whole],
            [prompts.completion[i] for i in whole],
            batch_size=batch_size,
        )
    greedy_correct = [truth[i] is not None and first_word(text) == truth[i] for i, text in enumerate(greedy)]
    records = [
        {
            "idx": prompts.idx[i],
            "prompt": prompts.prompt[i],
            "completion": prompts.completion[i],
            "text": prompts.text[i],
            "score": prompts.score[i],
            "samples": samples[i],
            "greedy": greedy[i],
            "new_tokens": new_tokens[i],
            "cosine_sentence": per_sample["cosine_sentence"][i].tolist(),
            "cosine_prompt_only": float(cosine_prompt[i]),
            "cosine_completion": per_sample["cosine_completion"][i].tolist(),
            "reward": per_sample["reward"][i].tolist(),
            "next_word_correct": per_sample["next_word_correct"][i].astype(int).tolist(),
            "greedy_next_word_correct": int(greedy_correct[i]),
            "completion_log_perplexity": [json_number(v) for v in per_sample["completion_log_perplexity"][i]],
            "true_completion_nll": json_number(true_nll[i]),
            "distinct_1": json_number(distinct_n(samples[i], 1)),
            "distinct_2": json_number(distinct_n(samples[i], 2)),
            "cut_entropy": float(cut_entropy[i]),
            "difficulty": difficulty(cut_entropy[i]),
            "first_token_nll": json_number(drawn.first_nll[i]),
            "next_token_correct": [json_number(value) for value in token_correct[i]],
            "greedy_next_token_correct": json_number(greedy_token_correct[i]),
        }
        for i in range(len(prompts))
    ]
    settings = {
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "source": prompts.source,
        "embedding_model": scorers.embedding_model_name_or_path,
        "rewards": scorers.reward_config.describe(),
        "scorer_model": scorers.perplexity.model_name_or_path,
    }
    # the metrics are read back from the records, so that the predictions file recomputes every one
    return NextSegmentResult.from_values(record_values(records), records, len(samples[0]), settings)


@dataclass
class NextSegmentTask:
    """The next-segment evaluation ready to evaluate any model (`rlpt_trl.evaluation.task.EvalTask`): the held-out
    prompts, the sampling settings of `evaluate_next_segment`, and the frozen scorers, loaded at the first evaluation
    and kept for the next models (their caches too)."""

    prompts: NextSegmentPrompts
    scorer_model_name_or_path: str
    embedding_model_name_or_path: str = DEFAULT_EMBEDDING_MODEL
    sampling: dict[str, int | float] = field(default_factory=dict)  # num_samples, temperature, max_new_tokens, seed
    batch_size: int = 16
    device: str = "auto"
    scorer_dtype: str = "auto"
    reward_config: RewardConfig | None = None  # the `reward` metric's rewards (default: embedding_cosine_reward)
    name: str = field(default=TASK, init=False)
    scorers: NextSegmentScorers | None = field(default=None, init=False, repr=False)

    def load_scorers(self) -> NextSegmentScorers:
        """The frozen scorers, loaded at the first call."""
        if self.scorers is None:
            self.scorers = NextSegmentScorers.load(
                self.scorer_model_name_or_path,
                self.embedding_model_name_or_path,
                device=self.device,
                dtype=self.scorer_dtype,
                reward_config=self.reward_config,
                num_samples=self.sampling.get("num_samples", 4),
            )
        return self.scorers

    def evaluate(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, model_name: str | None = None
    ) -> NextSegmentResult:
        return evaluate_next_segment(
            model,
            tokenizer,
            self.prompts,
            scorers=self.load_scorers(),
            batch_size=self.batch_size,
            # the runner loads the evaluated models in the scorer's dtype: the scorer evaluated is the scorer
            scored_by_model=model_name is not None and model_name == self.scorer_model_name_or_path,
            **self.sampling,
        )
