"""Run under `torchrun --nproc_per_node 2`: each process scores its slice of fixed batches with registered rewards.

Usage: distributed_rewards.py CASES_JSON OUTPUT_DIR. CASES_JSON holds a list of cases `{"reward": name,
"settings": {...}, "prompts": [...], "completions": [...], "columns": {name: [...]}, "slices": [n0, n1]}`: the
reward is `get_reward_funcs([name], **settings)`, and process r scores items `sum(slices[:r]) .. sum(slices[:r+1])`
of the prompts, completions and each dataset column ("columns" is optional). Each process writes its rewards per
case to OUTPUT_DIR/rank{r}.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import PartialState

from rlpt_trl.rewards import get_reward_funcs


def main(cases_json: str, output_dir: str) -> None:
    state = PartialState(cpu=True)
    cases = json.loads(Path(cases_json).read_text())
    results = []
    for case in cases:
        start = sum(case["slices"][: state.process_index])
        own = slice(start, start + case["slices"][state.process_index])
        (reward,) = get_reward_funcs([case["reward"]], **case["settings"])
        columns = {name: values[own] for name, values in case.get("columns", {}).items()}
        results.append(reward(prompts=case["prompts"][own], completions=case["completions"][own], **columns))
    Path(output_dir, f"rank{state.process_index}.json").write_text(json.dumps(results))
    # A gloo group still alive at interpreter exit can abort the process after the work is done.
    state.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
