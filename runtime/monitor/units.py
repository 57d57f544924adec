"""Numbers as people read them on a terminal or a dashboard: `12.5k/s`, `80%`, `2m 05s`.

Shared by the terminal view, the plain lines, alert messages and the status JSON, so that a
figure reads the same wherever it shows."""

from __future__ import annotations


def count(n: float) -> str:
    """`1234567` → `1.23M`; below 10,000 the number itself, with separators."""
    for threshold, size, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(n) >= threshold:
            return f"{n / size:.3g}{suffix}"
    return f"{n:,.0f}"


def rate(per_s: float) -> str:
    return f"{count(per_s)}/s"


def percent(share: float) -> str:
    """A share (0 to 1) as a percentage: `0.5` → `50%`, `0.075` → `7.5%`, `0.0002` → `<0.1%`."""
    value = share * 100
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    if value < 0.05:
        return "<0.1%"
    return f"{value:.1f}".rstrip("0").rstrip(".") + "%"


def seconds(s: float) -> str:
    """A duration for a person: `0.25 s` → `250ms`, `75` → `1m 15s`, `7300` → `2h 01m`."""
    if s < 0:
        return "-" + seconds(-s)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    minutes, secs = divmod(int(s), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def size(n_bytes: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} B"
