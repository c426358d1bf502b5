"""Datasets: GLUE loading, the CoLA GRPO data build and the seed's CSV + .npy format."""

from .cola_build import ColaBuildArguments, build_cola_dataset, split_prompt_completion
from .glue import GLUE_HUB_ID, GLUE_TASKS, glue_files, load_glue
from .seed_format import load_seed_pair, write_seed_pair


__all__ = [
    "GLUE_HUB_ID",
    "GLUE_TASKS",
    "ColaBuildArguments",
    "build_cola_dataset",
    "glue_files",
    "load_glue",
    "load_seed_pair",
    "split_prompt_completion",
    "write_seed_pair",
]
