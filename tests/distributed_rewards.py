"""Run under `torchrun --nproc_per_node 2`: each process scores its slice of a fixed batch with the perplexity reward.

Usage: distributed_rewards.py SCORER_DIR CASES_JSON OUTPUT_DIR. CASES_JSON holds a list of cases
`{"prompts": [...], "completions": [...], "slices": [n0, n1], "num_generations": G | null}`; process r scores
items `sum(slices[:r]) .. sum(slices[:r+1])` and writes its rewards per case to OUTPUT_DIR/rank{r}.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from accelerate import PartialState

from rlpt_trl.rewards import get_perplexity_reward


def main(scorer_dir: str, cases_json: str, output_dir: str) -> None:
    state = PartialState(cpu=True)
    cases = json.loads(Path(cases_json).read_text())
    results = []
    for case in cases:
        start = sum(case["slices"][: state.process_index])
        own = slice(start, start + case["slices"][state.process_index])
        reward = get_perplexity_reward(scorer_dir, batch_size=4, num_generations=case["num_generations"])
        results.append(reward(prompts=case["prompts"][own], completions=case["completions"][own]))
    Path(output_dir, f"rank{state.process_index}.json").write_text(json.dumps(results))
    # A gloo group still alive at interpreter exit can abort the process after the work is done.
    state.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
