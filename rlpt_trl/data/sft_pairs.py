"""CoLA acceptability judgements as prompt / completion pairs for `trl.SFTTrainer`.

A row becomes `prompt = prompt_template.format(sentence=...)` and `completion = " " + label_words[label]`.
SFTTrainer computes the loss on the completion tokens only for prompt / completion data
(`SFTConfig.completion_only_loss`, default on for this format) and appends the eos token to each completion.
"""

from __future__ import annotations

from datasets import Dataset


DEFAULT_PROMPT_TEMPLATE = "Sentence: {sentence}\nQuestion: Is this sentence grammatically acceptable?\nAnswer:"
DEFAULT_LABEL_WORDS = ("unacceptable", "acceptable")


def cola_prompt_completion(dataset: Dataset, prompt_template: str, label_words: list[str]) -> Dataset:
    """Turn CoLA rows (`sentence`, `label`) into `prompt` / `completion` rows."""
    words = [f" {word.strip()}" for word in label_words]
    return dataset.map(
        lambda row: {"prompt": prompt_template.format(sentence=row["sentence"]), "completion": words[row["label"]]},
        remove_columns=dataset.column_names,
    )
