"""rillet's runtime: executes a plan IR as a dataflow of anyio tasks joined by bounded channels.

```
 plan (IR, plan.py) ──compile.py──▶ physical graph (fused stages, generated code)
        │                                      │
        └──────────────── run.py: sources ═▶ stages ═▶ sinks   (one task group)
                          batches, watermarks, barriers and End flow in-band (item.py)
```

This package imports nothing else of rillet and never the grammar: it runs a plan, whatever
wrote it. Components (functions, connectors) come from a `plugin.Registry`.
"""

from .clock import Clock, ManualClock, SystemClock
from .connector import ConnectorError
from .failure import PipelineError, RecordError, first_failure
from .metrics import RunMetrics
from .plugin import Plugin, Registry
from .run import execute, prepare

__all__ = [
    "Clock",
    "ConnectorError",
    "ManualClock",
    "PipelineError",
    "Plugin",
    "RecordError",
    "Registry",
    "RunMetrics",
    "SystemClock",
    "execute",
    "first_failure",
    "prepare",
]
