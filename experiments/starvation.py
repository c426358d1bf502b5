"""How many of GRPO's groups will carry no gradient under RPT's reward? The starvation forecast, checked.

    python experiments/starvation.py            # the published run, into results/starvation/; rerun to resume it
    python experiments/starvation.py --smoke    # a few prompts and steps: checks the plumbing
    python experiments/starvation.py --report_only  # the report of the stages finished so far

From the SmolLM2-135M-Instruct GGUF, on two corpora: CoLA (the data build's random cuts of train; the 1031 dev cuts
held out) and the Python documentation (RLPT's next-sentence rows, `rlpt-trl data --task asr`, prompts of up to 128
tokens; its held-out documents). For each corpus, from the starting model alone: (1) the forecast (the `starvation`
evaluation task) on every held-out prompt, checked against 64 seeded one-token samples a prompt; (2) 25 GRPO steps of
the CPU recipe with RPT's reward (K = 4, one token, temperature 0.9) logging `frac_reward_zero_std` at every step;
(3) the forecast on the training prompts (CoLA's all, a uniform sample of 2000 of pydocs'), whose K = 4 value the
run's mean (95 % bootstrap CI over its steps) should hold. Each stage is a command; a stopped run continues at the stage it stopped in. The report in --output_dir:
README.md (its interpretation written by hand and kept), metrics.json, timings.json and each forecast's per-prompt
values (`forecasts/`, from which every number is recomputed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path


os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pipeline_report.hardware import describe_hardware  # noqa: E402
from pipeline_report.results_readme import SMOKE_NOTE, kept_interpretation  # noqa: E402
from pipeline_report.starvation import (  # noqa: E402
    compact_predictions,
    forecast_summary,
    forecast_table,
    heldout_table,
    run_table,
    run_zero_std,
)
from stages import (  # noqa: E402
    ROOT,
    Stage,
    StageBuilder,
    check_resumable,
    parse_resumable,
    read_timings,
    recipe,
    relative,
    resumable_parser,
    resume_stages,
    run_resumable,
)

from rlpt_trl.cli import run_with_errors  # noqa: E402
from rlpt_trl.utils.files import write_json, write_text_atomic  # noqa: E402


PROG = "experiments/starvation.py"
CONFIGS = {"cola": "recipes/smollm2-135m/grpo_rpt_cpu.yaml", "pydocs": "recipes/smollm2-135m/grpo_asr_cpu.yaml"}
GROUP_SIZES = (2, 4, 8, 16, 64)
# pydocs has 48 245 training prompts of about 120 tokens: a uniform sample forecasts them (2 cores: minutes, not hours)
PYDOCS_TRAIN_SAMPLE = 2000
SMOKE = {"max_prompts": 8, "grpo_steps": 2, "max_documents": 40}


def parse_args() -> argparse.Namespace:
    description = __doc__.split("\n\n")[0]
    parser = resumable_parser(PROG, description, "starvation", "seed of the data builds and the runs")
    parser.add_argument("--grpo_steps", type=int, default=25, help="steps of each GRPO run")
    parser.add_argument("--max_prompts", type=int, help="first N prompts of every forecast (default: all)")
    return parse_resumable(parser, "starvation", SMOKE)


class Plan:
    """The stages, corpus by corpus: the data build, the held-out forecast, the GRPO run, the training forecast."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.build = StageBuilder(args)
        self.forecasts = args.work_dir / "forecasts"

    def forecast_dir(self, name: str) -> Path:
        return self.forecasts / name

    def stages(self) -> list[Stage]:
        cola, pydocs = self.build.data("cola"), self.build.data("pydocs")
        documents = ["--max_samples", str(self.args.max_documents)] if self.args.max_documents else []
        pydocs_build = [
            self.build.python, "-m", "rlpt_trl.cli", "data", "--task", "asr", "--dataset_path",
            f"{self.args.pydocs_dir}/**/*.rst.txt", "--max_prompt_tokens", "128", "--embedding_model_name_or_path",
            "none", "--tokenizer_name_or_path", self.build.model("base"), "--seed", self.build.seed, *documents,
            "--output_dir", pydocs,
        ]  # fmt: skip
        rows = ["--max_samples", str(self.args.max_prompts)] if self.args.max_prompts else []
        return [
            Stage("import", "Import the GGUF", self.build.import_gguf().command, output=self.build.models / "base"),
            self._data_cola(rows),
            self._forecast("heldout-cola", "--data_dir", str(self.args.data_dir)),
            self._grpo("cola", cola),
            self._forecast("train-cola", "--next_segment_data", cola, "--starvation_split", "train"),
            Stage("data_pydocs", "Data build, pydocs next sentences", pydocs_build, output=ROOT / pydocs),
            self._forecast("heldout-pydocs", "--next_segment_data", pydocs),
            self._grpo("pydocs", pydocs),
            self._forecast(
                "train-pydocs",
                "--next_segment_data",
                pydocs,
                "--starvation_split",
                "train",
                "--starvation_sample",
                str(PYDOCS_TRAIN_SAMPLE),
            ),  # fmt: skip
        ]

    def _data_cola(self, rows: list[str]) -> Stage:
        stage = self.build.data_build("data_cola", "Data build, CoLA random cuts", "cola", "--cut_strategy", "random",
                                      *rows)  # fmt: skip
        stage.output = ROOT / self.build.data("cola")
        return stage

    def _forecast(self, name: str, *flags: str) -> Stage:
        """The `starvation` task of base on one prompt set, into forecasts/NAME."""
        rows = ["--next_segment_max_samples", str(self.args.max_prompts)] if self.args.max_prompts else []
        command = [
            self.build.python, "recipes/eval.py", "--model_name_or_path", self.build.model("base"), "--tasks",
            "starvation", "--starvation_group_sizes", *map(str, GROUP_SIZES), "--next_segment_seed",
            self.build.seed, "--dtype", "auto", "--batch_size", str(self.args.eval_batch_size), *flags, *rows,
            "--output_dir", relative(self.forecast_dir(name)),
        ]  # fmt: skip
        return Stage(
            f"forecast_{name.replace('-', '_')}", f"Forecast, {name}", command, output=self.forecast_dir(name)
        )

    def _grpo(self, corpus: str, data: str) -> Stage:
        steps = str(self.args.grpo_steps)
        return self.build.train(
            f"grpo-{corpus}", f"GRPO on {corpus}, {steps} steps", "grpo", CONFIGS[corpus], "base",
            "--dataset_name", data, "--max_steps", steps, "--logging_steps", "1", steps=self.args.grpo_steps,
        )  # fmt: skip


def collect(plan: Plan, timings: dict[str, float]) -> dict[str, object]:
    """metrics.json of the report, from the finished stages, and the compact per-prompt files it refers to."""
    args, heldout, train, runs, files = plan.args, {}, {}, {}, {}
    for corpus in CONFIGS:
        for kind, entries in (("heldout", heldout), ("train", train)):
            name = f"{kind}-{corpus}"
            metrics = plan.forecast_dir(name) / "metrics.json"
            if f"forecast_{kind}_{corpus}" in timings:
                (entry,) = json.loads(metrics.read_text()).values()
                predictions = plan.forecast_dir(name) / entry["starvation"]["predictions"]
                files[name] = compact_predictions(predictions)
                entries[corpus] = forecast_summary(files[name], GROUP_SIZES)
        if f"grpo_{corpus}" in timings:
            runs[corpus] = run_zero_std(plan.build.models / f"grpo-{corpus}", args.grpo_steps)
    settings = {name: getattr(args, name) for name in ("seed", "grpo_steps", "max_prompts", "max_documents")}
    return {
        "settings": {**settings, "group_sizes": list(GROUP_SIZES), "configs": CONFIGS},
        "heldout": heldout,
        "train": train,
        "grpo": runs,
        "files": files,
    }


def render_readme(plan: Plan, metrics: dict, timings: dict[str, float], hardware: dict, readme: Path) -> str:
    """The report's README.md: how it was made, the three tables, the kept interpretation."""
    stages = "\n".join(plan.build.shown_stage(stage) for stage in plan.stages())
    k = recipe(CONFIGS["cola"])["num_generations"]
    pending = [stage.name for stage in plan.stages() if stage.name not in timings]
    status = f"Stages not yet run: {', '.join(pending)}. Rerun the command to continue.\n\n" if pending else ""
    seconds = ", ".join(f"{name} {value:.0f} s" for name, value in timings.items())
    return f"""# The starvation forecast: zero-gradient groups under RPT's reward, before any training

{SMOKE_NOTE if plan.args.smoke else ""}Made on {datetime.date.today().isoformat()} with

```
python {PROG}{" --smoke" if plan.args.smoke else ""}
```

{status}For each prompt, p = the probability that one token sampled from base SmolLM2-135M-Instruct at temperature 0.9
earns RPT's reward (the softmax mass of the tokens whose lone decode is a prefix of the true completion ending on one
of its token boundaries); K samples all earn the same reward with probability p^K + (1 - p)^K, and such a group gives
GRPO no gradient. The forecast is the mean of that over the prompts (`rlpt-trl eval --tasks starvation`,
docs/evaluation.md). 95 % bootstrap CIs over prompts (forecasts) or steps (runs).

## What it shows

<!-- interpretation: written by hand; kept when the script re-runs -->
{kept_interpretation(readme)}
<!-- /interpretation -->

## The forecast against 64 samples a held-out prompt

{heldout_table(metrics["heldout"], GROUP_SIZES)}

"sampled": the share of prompts whose first K of 64 seeded samples all earned the same reward; the difference is
paired per prompt.

## The training prompts' forecast

{forecast_table(metrics["train"], GROUP_SIZES)}

## The forecast against the first {plan.args.grpo_steps} steps of a GRPO run

{run_table(metrics["grpo"], metrics["train"], k)}

`frac_reward_zero_std`: the share of the step's prompt groups whose {k} completions all earned the same reward, as
TRL logs it at every step; the CI is over the steps. Recipes: {", ".join(f"`{c}`" for c in CONFIGS.values())}.

## How it was made

Machine: {describe_hardware(hardware)} Evaluation and training dtype (chosen from the hardware): {hardware["eval_dtype"]}.

Stages (wall time: {seconds or "none yet"}):

```
{stages}
```

`forecasts/NAME.json`: each prompt's dataset id (its row in the data build, or the CoLA dev cut's `idx`), its hit
probability and its 64 sampled rewards, from which `rlpt_trl.evaluation.starvation.result.record_values`
recomputes every forecast metric.
"""


def main() -> None:
    args = parse_args()
    check_resumable(args, ("grpo_steps", "max_prompts", "max_documents", "eval_batch_size"))
    plan = Plan(args)
    run_resumable(
        args,
        lambda: resume_stages(plan.stages(), args.work_dir / "timings.json"),
        lambda hardware: write_report(plan, hardware),
    )


def write_report(plan: Plan, hardware: dict) -> None:
    """The report of the finished stages in --output_dir: README.md, metrics.json, timings.json, forecasts/."""
    output, timings_file = plan.args.output_dir, plan.args.work_dir / "timings.json"
    timings = read_timings(timings_file)
    metrics = collect(plan, timings)
    for name, values in metrics.pop("files").items():
        write_json(output / "forecasts" / f"{name}.json", values, indent=None)
    write_json(output / "metrics.json", metrics)
    write_json(output / "timings.json", timings)
    readme = output / "README.md"
    write_text_atomic(readme, render_readme(plan, metrics, timings, hardware, readme))
    print(f"report: {relative(readme)}", flush=True)


if __name__ == "__main__":
    sys.exit(run_with_errors(PROG, main))
