"""The data build on a real corpus: wall time, sentences per second and peak memory of `rlpt-trl data --task asr`.

    python benchmarks/corpus_build.py "$RLPT_PYDOCS_DIR" [--embedding_model "$RLPT_EMBEDDING_MODEL"] [--copies 10]
        [--max_samples N]

Builds, each a fresh `rlpt-trl data` process (its peak RSS is the largest of the process and its workers):

- the corpus (its `*.rst.txt` files), ASR rows without embeddings;
- the same with `--embedding_model` (MiniLM) embeddings, when given;
- with `--copies N`, the corpus repeated under N names (links in a scratch folder) without embeddings and with
  duplicate dropping off, so that every copy makes rows: memory should stay flat (the build streams) and time grow
  about N-fold.

`--max_samples N` limits the 1x builds to the first N documents (`rlpt-trl data --max_samples`), for the embedded
build on a machine too slow to embed the whole corpus in one sitting; it does not apply to `--copies`.

Sentences per second count the sentences segmented (`stats.json`: `segments`) over the whole command's wall time,
which includes reading, cleaning, tokenisation and writing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rlpt_trl.testing.assets import find_smollm2_gguf


PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def build(corpus: str, output: Path, tokenizer: str, *flags: str) -> dict:
    """Run one build; return its wall time, peak RSS (MiB) and statistics."""
    command = [sys.executable, "-m", "rlpt_trl.cli", "data", "--task", "asr", "--dataset_path", corpus,
               "--output_dir", str(output), "--tokenizer_name_or_path", tokenizer, *flags]  # fmt: skip
    start = time.perf_counter()
    # a fresh parent per build: its children's peak RSS is this build's alone
    result = subprocess.run(
        [sys.executable, "-c", PEAK, *command],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the build failed: {shlex.join(command)}\n{result.stderr.strip().splitlines()[-1]}")
    stats = json.loads((output / "stats.json").read_text())
    return {"seconds": seconds, "peak_rss_mib": int(result.stdout.split()[-1]) / 1024, "stats": stats}


def show(name: str, run: dict) -> None:
    stats = run["stats"]
    rows = sum(stats["rows_out"].values())
    print(
        f"{name:28s} {run['seconds']:7.1f} s  {stats['segments'] / run['seconds']:7.0f} sentences/s  "
        f"peak RSS {run['peak_rss_mib']:6.0f} MiB  {stats['documents_in']} documents  {rows} rows",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", help="the pydocs folder")
    parser.add_argument("--tokenizer", default=str(find_smollm2_gguf()), help="policy tokenizer (SmolLM2 GGUF)")
    parser.add_argument("--embedding_model", help="sentence-transformers folder for the embedded build")
    parser.add_argument("--copies", type=int, default=0, help="also build the corpus repeated under N names")
    parser.add_argument("--max_samples", type=int, help="build the first N documents only")
    args = parser.parse_args()
    limit = ["--max_samples", str(args.max_samples)] if args.max_samples else []
    root = Path(args.corpus).resolve()
    pattern = f"{root}/**/*.rst.txt"
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        one = build(pattern, scratch / "one", args.tokenizer, "--embedding_model_name_or_path", "none", *limit)
        show("1x, no embeddings", one)
        if args.embedding_model:
            embedded = build(pattern, scratch / "emb", args.tokenizer, "--embedding_model_name_or_path",
                             args.embedding_model, *limit)  # fmt: skip
            show("1x, MiniLM embeddings", embedded)
        if args.copies:
            for copy in range(args.copies):
                (scratch / "copies" / f"copy{copy}").parent.mkdir(exist_ok=True)
                (scratch / "copies" / f"copy{copy}").symlink_to(root)
            many = build(f"{scratch}/copies/*/**/*.rst.txt", scratch / "many", args.tokenizer,
                         "--embedding_model_name_or_path", "none", "--drop_duplicates", "false")  # fmt: skip
            show(f"{args.copies}x, no embeddings", many)
            print(
                f"{args.copies}x against 1x: time {many['seconds'] / one['seconds']:.2f}x, "
                f"peak RSS {many['peak_rss_mib'] / one['peak_rss_mib']:.2f}x"
            )


if __name__ == "__main__":
    main()
