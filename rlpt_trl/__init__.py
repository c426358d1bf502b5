"""rlpt_trl: reinforcement-learning pre-training of small language models (GRPO on CoLA) with TRL."""

from typing import TYPE_CHECKING

from .lazy import lazy_exports


__version__ = "0.1.0"

_EXPORTS = {
    "cola_sample_path": ".assets",
    "find_minilm": ".assets",
    "find_smollm2_gguf": ".assets",
    "ColaBuildArguments": ".data.cola_build",
    "build_cola_dataset": ".data.cola_build",
    "load_glue": ".data.glue",
    "load_seed_pair": ".data.seed_format",
    "resolve_device": ".devices",
    "resolve_dtype": ".devices",
    "DEFAULT_EMBEDDING_MODEL": ".embeddings",
    "encode_normalized": ".embeddings",
    "load_embedding_model": ".embeddings",
    "RlptError": ".errors",
    "import_gguf": ".modeling",
    "load_model_and_tokenizer": ".modeling",
    "load_tokenizer": ".modeling",
    "prepare_tokenizer": ".modeling",
    "get_embedding_cosine_reward": ".rewards",
    "get_perplexity_reward": ".rewards",
    "get_prefix_match_reward": ".rewards",
    "get_reward_funcs": ".rewards",
    "build_tiny_causal_lm": ".tiny_model",
}
__all__ = ["__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .assets import cola_sample_path, find_minilm, find_smollm2_gguf
    from .data.cola_build import ColaBuildArguments, build_cola_dataset
    from .data.glue import load_glue
    from .data.seed_format import load_seed_pair
    from .devices import resolve_device, resolve_dtype
    from .embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized, load_embedding_model
    from .errors import RlptError
    from .modeling import import_gguf, load_model_and_tokenizer, load_tokenizer, prepare_tokenizer
    from .rewards import get_embedding_cosine_reward, get_perplexity_reward, get_prefix_match_reward, get_reward_funcs
    from .tiny_model import build_tiny_causal_lm
