"""rillet's standard library: connectors, functions and aggregates, written against the same
plugin API (`rillet.runtime.plugin`) that third-party plugins use, and announced through the same
entry-point group (`rillet.plugins`, name `std`).

The files, the terminal, the functions and the aggregates are imported with the plugin; every
other connector's module only once a pipeline names the connector (`Later`), so a run does not
import the code of the brokers and databases it does not use.
"""

from rillet.runtime.plugin import Kind, Later, Plugin

from . import aggregates, file, filesink, functions, stdio

LATER: dict[str, tuple[tuple[Kind, str], ...]] = {
    "generate": (("source", "generate"),),
    "redis_stream": (("source", "redis_stream"),),
    "redisstreamsink": (("sink", "redis_stream"),),
    "redisbroker": (("broker", "redis"),),
    "shuffle": (("sink", "shuffle"), ("source", "shuffle")),
    "nats": (("source", "nats"),),
    "natssink": (("sink", "nats"),),
    "kafka": (("source", "kafka"),),
    "kafkasink": (("sink", "kafka"),),
    "kafkashuffle": (("sink", "kafka_shuffle"), ("source", "kafka_shuffle")),
    "kafkabroker": (("broker", "kafka"),),
    "postgres": (("sink", "postgres"), ("table", "postgres")),
    "sqlite": (("sink", "sqlite"), ("table", "sqlite")),
    "parquet": (("sink", "parquet"),),
    "delta": (("sink", "delta"),),
}
"""Each waiting module of this package, with the components it defines (a test holds the two
equal)."""
INTERNAL = {"shuffle", "kafka_shuffle"}
"""The connectors rillet puts into a plan itself (`Spec.internal`)."""

plugin = Plugin(
    "std",
    [s for m in (file, filesink, stdio, functions, aggregates) for s in m.plugin.specs],
    {
        key: Later(f"{__name__}.{module}", "std", key[1] in INTERNAL)
        for module, keys in LATER.items()
        for key in keys
    },
)
