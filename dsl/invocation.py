"""What every `rillet` command shares: its exit codes, the `-p NAME=VALUE` pairs, the report of
a pipeline file that does not compile, and masking the pipeline's secrets in what it prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rillet.runtime.plan import Plan
from rillet.runtime.secret import MaskedStream, Secrets

from .diagnostic import render_json, render_text
from .pipeline import Compiled

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


def params_of(pairs: Sequence[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"rillet: error: -p expects name=value, got `{pair}`")
        params[name.strip()] = value
    return params


def report(compiled: Compiled, as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(render_json(compiled.diagnostics, compiled.source) + b"\n")
    elif compiled.diagnostics:
        sys.stderr.write(render_text(compiled.diagnostics, compiled.source))


def mask_output(plan: Plan, stdout: bool) -> None:
    """From here on, standard error masks the plan's secrets: connector errors, warnings and
    log lines may quote a URL with its password. Standard output too when `stdout` (`test`
    prints rillet's own text there; under `run` it is a `stdout()` sink's records, written as
    they are). `main` puts the streams back."""
    secrets = Secrets(plan.secrets)
    if not secrets:
        return
    sys.stderr = MaskedStream(sys.stderr, secrets)
    if stdout:
        sys.stdout = MaskedStream(sys.stdout, secrets)
