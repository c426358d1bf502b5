"""rlpt_trl: reinforcement-learning pre-training of small language models (GRPO on CoLA) with TRL."""

from typing import TYPE_CHECKING

from .utils.lazy import lazy_exports


__version__ = "0.1.0"

_EXPORTS = {
    "ColaBuildArguments": ".data.cola_build",
    "build_cola_dataset": ".data.cola_build",
    "load_glue": ".data.glue",
    "load_prompt_dataset": ".data.prompt_dataset",
    "load_seed_pair": ".data.seed_format",
    "resolve_device": ".models.devices",
    "resolve_dtype": ".models.devices",
    "DEFAULT_EMBEDDING_MODEL": ".models.embeddings",
    "encode_normalized": ".models.embeddings",
    "load_embedding_model": ".models.embeddings",
    "import_gguf": ".models.loading",
    "load_model_and_tokenizer": ".models.loading",
    "load_tokenizer": ".models.loading",
    "prepare_tokenizer": ".models.loading",
    "get_embedding_cosine_reward": ".rewards",
    "get_perplexity_reward": ".rewards",
    "get_prefix_match_reward": ".rewards",
    "get_reward_funcs": ".rewards",
    "get_rpt_prefix_reward": ".rewards",
    "RlptError": ".utils.errors",
}
__all__ = ["__version__", *_EXPORTS]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .data.cola_build import ColaBuildArguments, build_cola_dataset
    from .data.glue import load_glue
    from .data.prompt_dataset import load_prompt_dataset
    from .data.seed_format import load_seed_pair
    from .models.devices import resolve_device, resolve_dtype
    from .models.embeddings import DEFAULT_EMBEDDING_MODEL, encode_normalized, load_embedding_model
    from .models.loading import import_gguf, load_model_and_tokenizer, load_tokenizer, prepare_tokenizer
    from .rewards import (
        get_embedding_cosine_reward,
        get_perplexity_reward,
        get_prefix_match_reward,
        get_reward_funcs,
        get_rpt_prefix_reward,
    )
    from .utils.errors import RlptError
