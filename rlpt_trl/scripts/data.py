"""Build prompt / completion rows for GRPO: CoLA sentences cut once (scores, target embeddings), or any corpus's
RLPT next-segment tasks with held-out documents (docs/corpus.md).

    rlpt-trl data --output_dir data/cola-smollm --tokenizer_name_or_path HuggingFaceTB/SmolLM-135M
    rlpt-trl data --task asr --dataset_path docs/ --output_dir data/docs-asr --embedding_model_name_or_path none
    python recipes/create_data.py --output_dir data/cola-smollm --data_dir GLUE_ROOT \
        --tokenizer_name_or_path MODEL.gguf --embedding_model_name_or_path MINILM_DIR

Every field of `rlpt_trl.data.build.DataBuildArguments` is a flag (or a key of a `--config` YAML).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from trl import TrlParser

    from ..data.build import DataBuildArguments


def main(args: DataBuildArguments) -> dict:
    """Build the dataset into `args.output_dir`; return its statistics."""
    from ..data.build import build_dataset

    return build_dataset(args)


def make_parser(prog: str | None = None) -> TrlParser:
    """The parser of `rlpt-trl data` and `recipes/create_data.py`."""
    from trl import TrlParser

    from ..data.build import DataBuildArguments

    return TrlParser(
        (DataBuildArguments,), prog=prog, description="Build prompt / completion rows from CoLA or any corpus."
    )
