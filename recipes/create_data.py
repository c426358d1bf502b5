"""Build the GRPO dataset: CoLA sentences with scores, prompt / completion cuts and target embeddings.

    python recipes/create_data.py --output_dir data/cola-smollm --tokenizer_name_or_path HuggingFaceTB/SmolLM-135M

The script is `rlpt_trl.scripts.data` (also installed as `rlpt-trl data`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("data", prog="create_data.py"))
