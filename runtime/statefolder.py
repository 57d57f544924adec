"""The folder a run keeps its checkpoints in: usable, and held by that one run.

Two runs of a pipeline sharing its folder would interleave their checkpoints and cut back each
other's outputs, so a run holds an exclusive `flock` on `run.lock` in the folder from before it
reads or writes anything to its end. The kernel drops the lock when the process ends, a `kill -9`
too, so a crash leaves nothing to clean up. The file also names the holder (pid and host) for the
message a second run prints; the holder empties it as it ends, so a lock found free but still
naming a holder was left by a run that was killed, and is taken over with a warning.

Taking the lock is also where a folder that cannot be used (a file, read-only) is found, before
any output is touched; a failure to write it later is a failed run (`checkpoint.py`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)

LOCK_FILE = "run.lock"


class StateFolderError(Exception):
    """The run cannot keep its checkpoints in the folder: a usage problem, exit code 2."""


class Holder(msgspec.Struct, frozen=True):
    pid: int
    host: str

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _probe_writing(folder: Path) -> None:
    """Raise OSError unless a new file can be written in `folder`, as checkpoints will be. Its
    name is fixed: only the run holding the folder's lock probes it (`tempfile` would cost
    every start two milliseconds to import)."""
    probe = folder / ".writable"
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    probe.unlink()


def shown(path: Path) -> str:
    """`path` as the user would write it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _unusable(folder: Path, e: OSError) -> StateFolderError:
    reason = e.strerror or str(e)
    blocking = next((p for p in (folder, *folder.parents) if p.is_file()), None)
    if blocking is not None:  # mkdir would only say "File exists" or "Not a directory"
        reason = f"{shown(blocking)} is a file, not a folder"
    return StateFolderError(
        f"cannot keep checkpoints in {shown(folder)}: {reason} "
        "(--state-dir DIR chooses another folder)"
    )


def _holder(fd: int) -> Holder | None:
    try:
        return msgspec.json.decode(os.pread(fd, 4096, 0), type=Holder)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # empty: released, or its holder has not written itself in yet


@contextlib.contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Hold `folder` for this run (creating it), or raise StateFolderError saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise _unusable(folder, e) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise _unusable(folder, e) from e
            holder = _holder(fd)
            raise StateFolderError(
                f"{shown(folder)} is in use by another run"
                f"{f' ({holder})' if holder else ''}; wait for it to end or stop it, or give "
                "this run its own --state-dir"
            ) from None
        left = _holder(fd)
        try:
            _probe_writing(folder)
            os.ftruncate(fd, 0)
            os.pwrite(fd, msgspec.json.encode(Holder(os.getpid(), socket.gethostname())), 0)
        except OSError as e:
            raise _unusable(folder, e) from e
        if left is not None:
            log.warning(
                "a run (%s) ended without releasing %s (killed?); taking it over",
                left,
                shown(folder),
            )
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
