"""Writes `<kind>-v<N>.msgpack`: the msgpack of `snapshot()` of each stateful operator filled as
`operators.FILL` says, in the snapshot format the code has now (`N`, its version: each
operator's format has its own). Fixtures of older formats are kept as they were written, so that
`test_snapshots.py` holds every format a checkpoint may still hold to restoring.

Regenerate (after a format change) from the repository's root:

    .venv/bin/python -m tests.runtime.snapshots.make_fixtures

It never overwrites a fixture: the old versions' blobs are the point.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from tests.runtime.snapshots.operators import FILL, filled

HERE = Path(__file__).parent


def main() -> None:
    for kind in FILL:
        snapshot = filled(kind).snapshot()
        path = HERE / f"{kind}-v{snapshot.__struct_config__.tag}.msgpack"
        if path.exists():
            print(f"kept {path.name}")
            continue
        path.write_bytes(msgspec.msgpack.encode(snapshot))
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
