"""Datasets: GLUE loading (and, later, the CoLA GRPO data build)."""

from .glue import GLUE_HUB_ID, GLUE_TASKS, glue_files, load_glue


__all__ = ["GLUE_HUB_ID", "GLUE_TASKS", "glue_files", "load_glue"]
