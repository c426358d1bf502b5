"""Load a causal LM and its tokenizer from a Hub id, a local HF directory or a local `.gguf` file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
from transformers.utils import GENERATION_CONFIG_NAME

from ..utils.errors import RlptError
from ..utils.files import atomic_directory, check_output_dir, file_problem, is_local_path
from ..utils.hub import loading
from .devices import resolve_device, resolve_dtype
from .special_tokens import check_end_token, gguf_special_token_ids, match_special_tokens


def is_gguf(model_name_or_path: str) -> bool:
    """Whether `model_name_or_path` names a GGUF file (by extension)."""
    return str(model_name_or_path).lower().endswith(".gguf")


def _check_local_path(model_name_or_path: str) -> None:
    """Fail early with a clear message for local paths that do not exist or are not causal LMs."""
    path = Path(model_name_or_path).expanduser()
    looks_local = (
        is_gguf(model_name_or_path) or is_local_path(model_name_or_path) or (model_name_or_path.count("/") > 1)
    )
    if not path.exists():
        if looks_local:
            raise RlptError(f"model path does not exist: {model_name_or_path}")
        return  # a Hub id
    if path.is_dir() and not (path / "config.json").is_file():
        raise RlptError(f"not a Hugging Face model directory (no config.json): {model_name_or_path}")
    # a weights file cut short by a full disk or a killed copy: transformers would fail deep in loading
    weights_files = [*path.glob("*.safetensors"), *path.glob("*.bin")] if path.is_dir() else []
    for weights in sorted(weights_files):
        if problem := file_problem(weights):
            raise RlptError(f"model {model_name_or_path}: {problem}; copy or save it again")


def _causal_lm_classes() -> set[str]:
    names = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values()
    return {name for entry in names for name in ((entry,) if isinstance(entry, str) else entry)}


def check_causal_lm(model_name_or_path: str, trust_remote_code: bool = False) -> None:
    """Reject checkpoints saved as something other than a causal LM (e.g. a sentence encoder), from their config
    alone."""
    with loading("model", model_name_or_path):
        try:
            config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code)
        except ValueError as err:
            # transformers says "Unrecognized model ... Should have a `model_type` key" over several sentences
            raise RlptError(
                f"cannot read the model config of {model_name_or_path}: {' '.join(str(err).split())}"
            ) from None
    if getattr(config, "auto_map", None) and trust_remote_code:
        return
    architectures = getattr(config, "architectures", None) or []
    known_type = config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    if not known_type or (architectures and not set(architectures) & _causal_lm_classes()):
        found = ", ".join(architectures) or config.model_type
        raise RlptError(f"not a causal language model ({found}): {model_name_or_path}")


@contextmanager
def _gguf_errors(path: str) -> Iterator[None]:
    """Turn the errors transformers raises for an unreadable or unsupported GGUF file into one-line `RlptError`s."""
    try:
        yield
    except ValueError as err:
        if "not supported" in str(err):
            raise RlptError(f"unsupported GGUF architecture in {path}: {err}") from None
        raise RlptError(f"cannot load GGUF file {path}: {err}") from None
    except (OSError, KeyError, IndexError) as err:
        raise RlptError(f"not a readable GGUF file: {path} ({type(err).__name__}: {err})") from None


def _load_gguf_model(path: str, dtype: torch.dtype) -> PreTrainedModel:
    """Dequantise a GGUF checkpoint into a plain, serialisable transformers model."""
    folder, filename = os.path.split(os.path.abspath(path))
    with _gguf_errors(path):
        gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, dtype=dtype, use_kernels=False)
    # transformers refuses to save a GGUF-loaded model; an identical model rebuilt from the
    # config and weights carries no quantizer and saves as plain safetensors.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    return model


def prepare_tokenizer(
    tokenizer: PreTrainedTokenizerBase, padding_side: Literal["left", "right"] = "left"
) -> PreTrainedTokenizerBase:
    """Use eos as pad when the tokenizer has none, and set the padding side.

    Left padding is what batched generation needs; right padding is the natural choice for scoring.
    """
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def load_tokenizer(
    name_or_path: str, *, padding_side: Literal["left", "right"] = "left", trust_remote_code: bool = False
) -> PreTrainedTokenizerBase:
    """Load the tokenizer of a Hub id, a local HF directory or a `.gguf` file, prepared by `prepare_tokenizer`."""
    name_or_path = str(name_or_path)
    _check_local_path(name_or_path)
    if is_gguf(name_or_path):
        folder, filename = os.path.split(os.path.abspath(name_or_path))
        with _gguf_errors(name_or_path):
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
            match_special_tokens(tokenizer, gguf_special_token_ids(name_or_path), name_or_path)
    else:
        with loading("tokenizer", name_or_path):
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        check_end_token(tokenizer, _generation_eos_ids(name_or_path), name_or_path)
    return prepare_tokenizer(tokenizer, padding_side)


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """SHA-256 of the tokenizer's vocabulary (token -> id): equal for the same tokenizer however it was loaded (a
    GGUF, its imported folder, a Hub id)."""
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    return hashlib.sha256(vocabulary.encode()).hexdigest()


def max_positions(model_name_or_path: str, trust_remote_code: bool = False) -> int | None:
    """The positions a causal LM was built for (`max_position_embeddings`), read from its config alone; None when it
    does not say."""
    model_name_or_path = str(model_name_or_path)
    if is_gguf(model_name_or_path):
        folder, filename = os.path.split(os.path.abspath(model_name_or_path))
        with _gguf_errors(model_name_or_path):
            config = AutoConfig.from_pretrained(folder, gguf_file=filename)
    else:
        with loading("model", model_name_or_path):
            config = AutoConfig.from_pretrained(model_name_or_path, trust_remote_code=trust_remote_code)
    return getattr(config, "max_position_embeddings", None)


def _generation_eos_ids(name_or_path: str) -> list[int]:
    """The eos ids of a local folder's generation_config.json (none for a Hub id: no download for a check)."""
    if not (Path(name_or_path) / GENERATION_CONFIG_NAME).is_file():
        return []
    eos = GenerationConfig.from_pretrained(name_or_path).eos_token_id
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


def load_model_and_tokenizer(
    model_name_or_path: str,
    *,
    dtype: str | torch.dtype = "auto",
    device: str | torch.device | None = "auto",
    padding_side: Literal["left", "right"] = "left",
    trust_remote_code: bool = False,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from a Hub id, a local HF directory or a `.gguf` file.

    Args:
        model_name_or_path: Hub id (`HuggingFaceTB/SmolLM2-135M`), local directory or `.gguf` file.
        dtype: `"auto"` (bf16 on capable CUDA, fp32 otherwise, for training), a torch dtype name, or a resolved
            `torch.dtype` (an evaluation's, `evaluation_dtype`), used as is.
        device: `"auto"`, an explicit device (a resolved `torch.device` is used as is), or `None` to leave the model
            on the CPU for a trainer to place.
        padding_side: `"left"` for generation, `"right"` for scoring.
        trust_remote_code: Run modelling code from the checkpoint; off unless asked for.
    """
    model_name_or_path = str(model_name_or_path)
    _check_local_path(model_name_or_path)
    target = resolve_device(device) if device is not None else None
    torch_dtype = resolve_dtype(dtype, target)
    if is_gguf(model_name_or_path):
        tokenizer = load_tokenizer(model_name_or_path, padding_side=padding_side)
        model = _load_gguf_model(model_name_or_path, torch_dtype)
    else:
        check_causal_lm(model_name_or_path, trust_remote_code)
        tokenizer = load_tokenizer(model_name_or_path, padding_side=padding_side, trust_remote_code=trust_remote_code)
        with loading("model", model_name_or_path):
            # transformers (5.25) swaps layers for Hub kernels when `kernels` is installed and fetches them at the
            # first `train()` on CUDA: offline that dies, online it changes the numerics behind our back
            model = AutoModelForCausalLM.from_pretrained(
                model_name_or_path, dtype=torch_dtype, trust_remote_code=trust_remote_code, use_kernels=False
            )
    # saved checkpoints must stop generation where the tokenizer does
    if model.generation_config.eos_token_id is None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if target is not None:
        model.to(target)
    return model, tokenizer


def import_gguf(gguf_path: str, output_dir: str) -> Path:
    """Convert a `.gguf` checkpoint into a Hugging Face directory (safetensors, tokenizer, chat template,
    generation config) that `AutoModelForCausalLM.from_pretrained` loads, into a new or empty folder, whole or not
    at all."""
    if not is_gguf(gguf_path):
        raise RlptError(f"not a .gguf file: {gguf_path}")
    check_output_dir(output_dir, "output_dir", empty=True)
    model, tokenizer = load_model_and_tokenizer(gguf_path, dtype="float32", device=None)
    generation_config = GenerationConfig.from_model_config(model.config)
    generation_config.eos_token_id = tokenizer.eos_token_id
    generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config = generation_config
    with atomic_directory(output_dir) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    return Path(output_dir)
