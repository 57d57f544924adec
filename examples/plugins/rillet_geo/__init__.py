"""An installable rillet plugin: `country_of(ip)` for expressions, `mask_ip` to hide the host
part of an address, and `running_total` to keep a per-key running sum. Installing the package
announces it through the `rillet.plugins` entry point, so pipelines use it without a `use`
line."""

from __future__ import annotations

from ipaddress import ip_address

from rillet.runtime.plugin import Plugin

plugin = Plugin("geo")

# A toy table: the first octet of an IPv4 address to a country code.
_COUNTRIES = {10: "NL", 81: "GB", 93: "DE", 151: "IT"}


@plugin.function("country_of")
def country_of(ip: str | None) -> str | None:
    """The country code of an IPv4 address (a toy table), or null."""
    if ip is None:
        return None
    try:
        first = int(str(ip_address(ip)).split(".")[0])
    except ValueError:
        return None
    return _COUNTRIES.get(first)


@plugin.operator("mask_ip")
def mask_ip(record: dict, *, field: str = "ip") -> dict | None:
    """Replaces the last octet of an IPv4 address with 0; drops records without one."""
    ip = record.get(field)
    if not isinstance(ip, str) or ip.count(".") != 3:
        return None
    return {**record, field: ip.rsplit(".", 1)[0] + ".0"}


@plugin.operator("running_total")
class RunningTotal:
    """Adds `total`: the running sum of `field` per `key`, in arrival order."""

    def __init__(self, *, field: str, key: str) -> None:
        self.field = field
        self.key = key
        self.totals: dict[object, float] = {}

    def process(self, batch: list[dict]) -> list[dict]:
        out = []
        for record in batch:
            key = record.get(self.key)
            total = self.totals.get(key, 0) + (record.get(self.field) or 0)
            self.totals[key] = total
            out.append({**record, "total": total})
        return out

    def snapshot(self) -> object:
        return [[key, total] for key, total in self.totals.items()]

    def restore(self, state: object) -> None:
        self.totals = dict(state)  # type: ignore[attr-defined]
