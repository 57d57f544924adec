"""The run summary's checkpoint lines: what checkpoints cost the run, and each stateful
operator's state, so a checkpoint interval too short for the state shows at the end of the run.

```
checkpoints 24   took 0.01-0.35 s (median 0.02 s)   saving 1.30 s   wrote 31 MB (+60 MB compacting)
  join@30                  largest state 52 MB   taking parts 0.41 s   wrote 31 MB
```
"""

from __future__ import annotations

from ..metrics import CheckpointMetrics
from . import units


def checkpoint_lines(checkpoints: CheckpointMetrics) -> list[str]:
    """Nothing for a run that took no checkpoint."""
    if not checkpoints.completed:
        return []
    from statistics import median  # here: `statistics` costs a start a millisecond and a half

    durations = [r.duration_s for r in checkpoints.history if r.duration_s is not None]
    took = (
        f"   took {min(durations):.2f}-{max(durations):.2f} s (median {median(durations):.2f} s)"
        if durations
        else ""
    )
    written = sum(op.written_bytes for op in checkpoints.operators.values())
    compacted = checkpoints.compacted_bytes
    lines = [
        f"  checkpoints {checkpoints.completed}{took}"
        f"   saving {checkpoints.saving_s:.2f} s   wrote {units.size(written)}"
        + (f" (+{units.size(compacted)} compacting)" if compacted else "")
    ]
    for name, op in checkpoints.operators.items():
        if op.written_bytes or op.state_bytes:
            lines.append(
                f"    {name:<24} largest state {units.size(op.state_bytes):>9}"
                f"   taking parts {op.taking_s:.2f} s   wrote {units.size(op.written_bytes)}"
            )
    return lines


__all__ = ["checkpoint_lines"]
