"""Same-architecture models with random weights, built from a folder's config and tokenizer alone: the compute of
the real model for timing where its weights cannot travel. Their config says so (`RANDOM_INIT_KEY`), and every
checkpoint trained from one keeps saying so."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, PretrainedConfig

from ..utils.errors import RlptError


RANDOM_INIT_KEY = "rlpt_random_init"
RANDOM_INIT_LABEL = "random-init weights (timing only)"
# weights in every layout transformers saves: one file, shards, and the shards' index
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")


def is_weight_file(path: Path) -> bool:
    """Whether a model folder's file holds weights (or indexes their shards)."""
    return path.name.endswith(WEIGHT_SUFFIXES)


def is_random_init(config: PretrainedConfig) -> bool:
    """Whether a model's config marks it as built by `build_random_init`."""
    return bool(getattr(config, RANDOM_INIT_KEY, False))


def weightless_files(folder: Path) -> list[Path]:
    """The files of a model folder but its weights: what a random-init model is built from."""
    return [path for path in sorted(folder.rglob("*")) if path.is_file() and not is_weight_file(path)]


def build_random_init(folder: str | Path, seed: int = 0) -> Path:
    """Write random weights of the architecture in `folder`'s config.json into `folder` (a causal LM, or the
    encoder of a sentence-transformers folder), marked `rlpt_random_init` in its config."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise RlptError(f"no config.json in {folder}")
    if any(is_weight_file(path) for path in folder.iterdir()):
        raise RlptError(f"{folder} holds weights already")
    config = AutoConfig.from_pretrained(folder)
    setattr(config, RANDOM_INIT_KEY, True)
    causal = any(name.endswith("ForCausalLM") for name in getattr(config, "architectures", None) or [])
    torch.manual_seed(seed)
    model = (AutoModelForCausalLM if causal else AutoModel).from_config(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder
