from __future__ import annotations

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DistributedType


CONFIG_DIR = Path(__file__).resolve().parents[1] / "accelerate_configs"
EXPECTED = {
    "cpu.yaml": (DistributedType.NO, 1, True),
    "cpu_ddp.yaml": (DistributedType.MULTI_CPU, 2, True),
    "single_gpu.yaml": (DistributedType.NO, 1, False),
    "multi_gpu.yaml": (DistributedType.MULTI_GPU, 8, False),
    "zero2.yaml": (DistributedType.DEEPSPEED, 8, False),
    "zero3.yaml": (DistributedType.DEEPSPEED, 8, False),
    "fsdp.yaml": (DistributedType.FSDP, 8, False),
}


def test_every_config_is_listed() -> None:
    assert sorted(p.name for p in CONFIG_DIR.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_validates_config(name: str) -> None:
    """accelerate itself parses each file and validates the launch it describes."""
    distributed_type, num_processes, use_cpu = EXPECTED[name]
    config = load_config_from_file(str(CONFIG_DIR / name))
    assert config.distributed_type == distributed_type
    args = launch_command_parser().parse_args(["--config_file", str(CONFIG_DIR / name), "recipes/grpo.py"])
    args, _, _ = _validate_launch_command(args)
    assert args.num_processes == num_processes
    assert bool(args.use_cpu) == use_cpu


def test_deepspeed_stages() -> None:
    assert load_config_from_file(str(CONFIG_DIR / "zero2.yaml")).deepspeed_config["zero_stage"] == 2
    zero3 = load_config_from_file(str(CONFIG_DIR / "zero3.yaml")).deepspeed_config
    assert zero3["zero_stage"] == 3 and zero3["zero3_init_flag"] is True
    assert (
        load_config_from_file(str(CONFIG_DIR / "fsdp.yaml")).fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    )
