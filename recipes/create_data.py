"""Build the GRPO dataset: CoLA sentences with scores, prompt / completion cuts and target embeddings.

    python recipes/create_data.py --output_dir data/cola-smollm --tokenizer_name_or_path HuggingFaceTB/SmolLM-135M
    python recipes/create_data.py --output_dir data/cola-smollm --data_dir GLUE_ROOT \
        --tokenizer_name_or_path MODEL.gguf --embedding_model_name_or_path MINILM_DIR

Every field of `rlpt_trl.data.cola_build.ColaBuildArguments` is a flag (or a key of a `--config` YAML).
The same command is installed as `rlpt-trl data`.
"""

import sys

from trl import TrlParser

from rlpt_trl.cli import run_recipe
from rlpt_trl.data.cola_build import ColaBuildArguments, build_cola_dataset


if __name__ == "__main__":
    sys.exit(run_recipe("create_data.py", TrlParser((ColaBuildArguments,)), build_cola_dataset))
