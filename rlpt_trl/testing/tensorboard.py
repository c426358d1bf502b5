"""Reading back the TensorBoard scalars a trainer logged (`report_to: tensorboard`, events under `output_dir/runs/`)."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ..utils.errors import RlptError


def read_scalars(output_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of the one training run logged in `output_dir/runs/`: tag -> [(step, value), ...]."""
    runs = sorted({path.parent for path in Path(output_dir).glob("runs/*/events.out.tfevents.*")})
    if len(runs) != 1:
        found = ", ".join(str(run) for run in runs) or "none"
        raise RlptError(f"expected the TensorBoard events of one run under {output_dir}/runs/, found {found}")
    # size_guidance 0 keeps every event: the default samples long series down
    accumulator = EventAccumulator(str(runs[0]), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }
