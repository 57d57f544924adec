"""Seeing a running pipeline: the live terminal view, log lines, alerts, and over HTTP the
Prometheus metrics and a dashboard.

```
 runtime.metrics (counters, updated once per batch)
        │ read once a second, in the event loop           │ read at scrape time, HTTP thread
        ▼                                                  ▼
 snapshot.Sampler ─▶ Snapshot ─▶ alert.Alerts      prometheus.RunCollector ─▶ /metrics
        │               ├──▶ terminal.render (rich, on a terminal)
        │               ├──▶ plain.lines ─▶ logs (text or JSON lines)
        │               └──▶ status ─▶ /api/status ─▶ dashboard.html
        └── monitor.Monitor: the task that ticks, beside the run's own tasks
```

Over HTTP (`--http`): `server` accepts connections on a thread with an event loop of its own,
within a CPU budget (`budget`); `request` reads and writes the HTTP; `access` decides whom to
answer (the `Host` header, the token); `pages` answers each path.

This package depends on `rillet.runtime` only, never on the front end; the runtime knows
nothing of it (nor of rich or prometheus-client). `rillet run` (`dsl/cli.py`) wires it up,
importing `server` only for `--http`, and `terminal` (rich) only on a terminal, so other
commands start no slower for it.
"""
