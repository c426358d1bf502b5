"""Next-token training controls on a data build's rows with `trl.SFTTrainer`.

    python recipes/ntp.py --config recipes/smollm2-135m/ntp_cpu.yaml --dataset_name DATA_DIR --mode pretrain

The script is `rlpt_trl.scripts.ntp` (also installed as `rlpt-trl ntp`); see its docstring for the flags.
"""

import sys

from rlpt_trl.cli import run_command


if __name__ == "__main__":
    sys.exit(run_command("ntp", prog="ntp.py"))
