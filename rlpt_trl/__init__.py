"""rlpt_trl: reinforcement-learning pre-training of small language models (GRPO on CoLA) with TRL."""

__version__ = "0.1.0"

from .assets import cola_sample_path, find_minilm, find_smollm2_gguf
from .data import ColaBuildArguments, build_cola_dataset, load_glue, load_seed_pair
from .embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized, load_embedding_model
from .errors import RlptError
from .devices import resolve_device, resolve_dtype
from .modeling import (
    import_gguf,
    load_model_and_tokenizer,
    load_tokenizer,
    prepare_tokenizer,
)
from .rewards import get_embedding_cosine_reward, get_perplexity_reward, get_reward_funcs
from .tiny_model import build_tiny_causal_lm


__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "ColaBuildArguments",
    "RlptError",
    "__version__",
    "build_cola_dataset",
    "build_tiny_causal_lm",
    "cola_sample_path",
    "encode_normalized",
    "find_minilm",
    "find_smollm2_gguf",
    "get_embedding_cosine_reward",
    "get_perplexity_reward",
    "get_reward_funcs",
    "import_gguf",
    "load_embedding_model",
    "load_glue",
    "load_model_and_tokenizer",
    "load_seed_pair",
    "load_tokenizer",
    "prepare_tokenizer",
    "resolve_device",
    "resolve_dtype",
]
