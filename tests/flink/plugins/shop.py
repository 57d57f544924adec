"""A plugin a conformance pipeline `use`s by path: its functions run as Python UDFs on Flink."""

from __future__ import annotations

from rillet.runtime.plugin import Plugin

plugin = Plugin("shop")

SECTIONS = {"product": "catalogue", "cart": "checkout", "checkout": "checkout"}


@plugin.function("section_of")
def section_of(page: str | None) -> str | None:
    """The shop section a page belongs to."""
    if page is None:
        return None
    first = page.strip("/").split("/")[0]
    return SECTIONS.get(first, "other")


@plugin.function("price_band")
def price_band(latency_ms: float | None, width: int = 100) -> int | None:
    """Which band of `width` the value falls in."""
    return None if latency_ms is None else int(latency_ms // width)


@plugin.function("labels")
def labels(user: int | None) -> list[str] | None:
    """A user's labels."""
    return None if user is None else [f"u{user}", "even" if user % 2 == 0 else "odd"]


@plugin.aggregate("trail")
class Trail:
    """The non-null values joined by `sep` in arrival order: which way a key went."""

    def __init__(self, sep: str = ">") -> None:
        self.sep = sep
        self.values: list[str] = []

    def add(self, value: str | None) -> None:
        if value is not None:
            self.values.append(value)

    def merge(self, other: Trail) -> None:
        self.values.extend(other.values)

    def result(self) -> str | None:
        return self.sep.join(self.values) if self.values else None

    def snapshot(self) -> list[str]:
        return self.values

    def restore(self, state: list[str]) -> None:
        self.values = list(state)
