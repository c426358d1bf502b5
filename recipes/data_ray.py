"""The data build (`rlpt-trl data`) on a Ray cluster: each stage's `--num_workers` tasks run as Ray actors.

    # NFS_ROOT: a folder every node mounts at the same path
    ray start --head                          # on one node; `ray start --address HEAD:6379` on the others
    python recipes/data_ray.py --ray_address auto --dataset_path NFS_ROOT/corpus --task asr \
        --num_workers 64 --work_dir NFS_ROOT/scratch/corpus-asr --output_dir NFS_ROOT/builds/corpus-asr \
        --tokenizer_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct --embedding_model_name_or_path none

Every flag of `rlpt-trl data` is taken, and gives the same rows. `--work_dir`, `--output_dir` and `--dataset_path`
must be on storage that the launching process and every node share; the launching process lists the inputs, takes the
split's global decisions between the two stages and publishes the folder. Without `--ray_address` a local Ray
instance is started (what the tests run). See docs/corpus.md, "On a cluster".
"""

import sys
from dataclasses import dataclass, field

from trl import TrlParser

from rlpt_trl.cli import run_script
from rlpt_trl.data.build import DataBuildArguments, build_dataset
from rlpt_trl.data.engine import ray_executor


@dataclass
class RayArguments:
    ray_address: str | None = field(
        default=None, metadata={"help": "Cluster to join (`auto`: the one `ray start` runs). Default: start one here."}
    )
    cpus_per_task: int = field(default=1, metadata={"help": "CPUs each task reserves."})
    mem_per_cpu_gb: float = field(default=2.0, metadata={"help": "Memory (GB) each task reserves per CPU."})


def main(build: DataBuildArguments, cluster: RayArguments) -> dict:
    import ray

    ray.init(address=cluster.ray_address, log_to_driver=False, logging_level="ERROR", include_dashboard=False)
    try:
        return build_dataset(build, ray_executor(cluster.cpus_per_task, cluster.mem_per_cpu_gb))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    parser = TrlParser((DataBuildArguments, RayArguments), prog="data_ray.py")
    sys.exit(run_script("data_ray.py", parser, main))
