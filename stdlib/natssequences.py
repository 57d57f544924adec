"""The bookkeeping of JetStream stream sequences behind the `nats` source's positions and
acknowledgements: sequences as runs of consecutive numbers, their union, whether a run holds a
sequence, and the sequence an acknowledgement subject names."""

from __future__ import annotations

from bisect import bisect_right


def ranges(sequences: list[int]) -> list[list[int]]:
    """Sorted sequences as `[first, last]` runs of consecutive numbers."""
    out: list[list[int]] = []
    for s in sorted(sequences):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def merge(runs: list[list[int]], more: list[list[int]]) -> list[list[int]]:
    """The union of two lists of runs, as runs."""
    out: list[list[int]] = []
    for first, last in sorted(runs + more):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


def covers(runs: list[list[int]], firsts: list[int], sequence: int) -> bool:
    """Whether `sequence` is in one of `runs` (sorted; `firsts` their first sequences)."""
    i = bisect_right(firsts, sequence) - 1
    return i >= 0 and runs[i][1] >= sequence


def ack_sequence(reply: str) -> int:
    """The stream sequence in a JetStream acknowledgement subject, old (9 tokens) or new
    (12, with domain and account)."""
    tokens = reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])
