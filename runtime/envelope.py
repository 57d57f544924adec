"""The envelope a checkpoint is stored in, so that a corrupted one is rejected rather than resumed.

A flipped bit in a bare manifest may still decode, to a wrong offset, length or state, and a run
resumed from it writes wrong output without a word. Sealed, a manifest is `MAGIC`, a format byte,
the BLAKE2b-256 digest of the body, then the body; any change to any of them fails the check.
Manifests written before the envelope (a bare msgpack map) are still opened, unchecked.
"""

from __future__ import annotations

import hashlib

MAGIC = b"RLCK"
"""Its first byte, `R`, is three bits away from any msgpack map header, so no single flipped bit
turns a sealed manifest into what looks like a bare one."""
FORMAT = 1
DIGEST_BYTES = 32
HEADER_BYTES = len(MAGIC) + 1 + DIGEST_BYTES
BARE_MAP_HEADERS = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])


class Corrupt(ValueError):
    """The bytes are not a checkpoint as it was written."""


def _digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=DIGEST_BYTES).digest()


def seal(body: bytes) -> bytes:
    return MAGIC + bytes([FORMAT]) + _digest(body) + body


def unseal(data: bytes) -> bytes:
    """The body of a sealed checkpoint, checked; a bare one as it is."""
    if data[:1] and data[0] in BARE_MAP_HEADERS:
        return data
    if not data.startswith(MAGIC) or len(data) < HEADER_BYTES:
        raise Corrupt("not a rillet checkpoint (its header is damaged)")
    if data[len(MAGIC)] != FORMAT:
        raise Corrupt(f"unknown checkpoint format {data[len(MAGIC)]}")
    digest, body = data[len(MAGIC) + 1 : HEADER_BYTES], data[HEADER_BYTES:]
    if _digest(body) != digest:
        raise Corrupt("checksum mismatch (the checkpoint was damaged after it was written)")
    return body
