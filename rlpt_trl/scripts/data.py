"""Build the GRPO dataset: CoLA sentences with scores, prompt / completion cuts and target embeddings.

    rlpt-trl data --output_dir data/cola-smollm --tokenizer_name_or_path HuggingFaceTB/SmolLM-135M
    python recipes/create_data.py --output_dir data/cola-smollm --data_dir GLUE_ROOT \
        --tokenizer_name_or_path MODEL.gguf --embedding_model_name_or_path MINILM_DIR

Every field of `rlpt_trl.data.cola_build.ColaBuildArguments` is a flag (or a key of a `--config` YAML).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from trl import TrlParser

    from ..data.cola_build import ColaBuildArguments


def main(args: ColaBuildArguments) -> dict:
    """Build the dataset into `args.output_dir`; return its statistics."""
    from ..data.cola_build import build_cola_dataset

    return build_cola_dataset(args)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl data` and `recipes/create_data.py`."""
    from trl import TrlParser

    from ..data.cola_build import ColaBuildArguments

    return TrlParser((ColaBuildArguments,), prog=prog, description="Build the CoLA GRPO dataset.")
