"""Datasets: GLUE loading, the data build (any corpus to prompt / completion rows), SFT pairs, prompt datasets and the seed's CSV + .npy format."""

from typing import TYPE_CHECKING

from ..utils.lazy import lazy_exports


_EXPORTS = {
    "DataBuildArguments": ".build",
    "build_dataset": ".build",
    "split_prompt_completion": ".tasks",
    "GLUE_HUB_ID": ".glue",
    "GLUE_TASKS": ".glue",
    "glue_files": ".glue",
    "load_glue": ".glue",
    "load_prompt_dataset": ".prompt_dataset",
    "load_seed_pair": ".seed_format",
    "write_seed_pair": ".seed_format",
    "cola_prompt_completion": ".sft_pairs",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .build import DataBuildArguments, build_dataset
    from .glue import GLUE_HUB_ID, GLUE_TASKS, glue_files, load_glue
    from .prompt_dataset import load_prompt_dataset
    from .seed_format import load_seed_pair, write_seed_pair
    from .sft_pairs import cola_prompt_completion
    from .tasks import split_prompt_completion
