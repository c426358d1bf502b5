"""A tiny Llama-architecture causal LM and a tiny BERT sentence encoder with byte-level BPE tokenizers, built
locally in well under a second.

Used by the fast tests and by the quickstart when no real checkpoint is at hand: the causal LM exercises every code
path of a real model (chat template, eos, padding, generation), the encoder every code path of a sentence-transformers
model like all-MiniLM-L6-v2 (special tokens around each text, padded batches, mean pooling), without the Hub.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertModel,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from .assets import cola_sample_path


CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ENCODER_SPECIAL_TOKENS = ["[PAD]", "[CLS]", "[SEP]"]
# The sentence embedding size of `build_tiny_sentence_transformer` (mean pooling keeps the hidden size).
TINY_EMBEDDING_DIM = 32


def _sample_texts() -> list[str]:
    """The sentences of the shipped CoLA sample, which the tiny tokenizers are trained on."""
    return [line.split("\t")[3] for line in cola_sample_path().read_text(encoding="utf-8").splitlines()]


def _byte_level_bpe(texts: list[str], special_tokens: list[str], vocab_size: int = 384) -> Tokenizer:
    """A byte-level BPE `tokenizers.Tokenizer` trained on `texts`: any text encodes, with no unknown token."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def build_tiny_tokenizer(texts: list[str], vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (any text encodes, no unknown token) with ChatML special tokens and no pad token."""
    return PreTrainedTokenizerFast(
        tokenizer_object=_byte_level_bpe(texts, SPECIAL_TOKENS, vocab_size),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_causal_lm(output_dir: str | Path, seed: int = 0) -> Path:
    """Write a randomly initialised 2-layer Llama (~0.1M parameters) and its tokenizer to `output_dir`."""
    tokenizer = build_tiny_tokenizer(_sample_texts())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        # its 384-token byte-level vocabulary spends about four times SmolLM2's tokens on a text: a real RTE passage
        # needs more than 512 positions
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id
    )
    output = Path(output_dir)
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    return output


def build_tiny_encoder_tokenizer(texts: list[str], vocab_size: int = 384) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer that wraps every text in `[CLS] ... [SEP]` like BERT's, and pads with `[PAD]`.

    The wrapping gives even an empty text a token to pool, as with all-MiniLM-L6-v2. There is no chat template:
    sentence-transformers would otherwise wrap each plain text in a chat turn.
    """
    tokenizer = _byte_level_bpe(texts, ENCODER_SPECIAL_TOKENS, vocab_size)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in ("[CLS]", "[SEP]")],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", model_max_length=128
    )


def build_tiny_sentence_transformer(output_dir: str | Path, seed: int = 0) -> Path:
    """Write a randomly initialised 2-layer BERT encoder (~0.03M parameters) with mean pooling to `output_dir` as a
    sentence-transformers folder, for `rlpt_trl.models.embeddings.load_embedding_model`.

    It has no `Normalize` module, unlike all-MiniLM-L6-v2: its raw embeddings are not unit-norm, so tests run on it
    catch code that relies on the model to normalise.
    """
    # Imported here so that building the causal LM does not pay for sentence-transformers.
    from sentence_transformers import SentenceTransformer

    tokenizer = build_tiny_encoder_tokenizer(_sample_texts())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=TINY_EMBEDDING_DIM,
        intermediate_size=2 * TINY_EMBEDDING_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    output = Path(output_dir)
    BertModel(config).save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)
    # A plain transformers folder loads as Transformer + mean Pooling; saving it adds the sentence-transformers files.
    SentenceTransformer(str(output), device="cpu").save(str(output))
    return output
