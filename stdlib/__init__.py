"""rillet's standard library: connectors, functions and aggregates, written against the same
plugin API (`rillet.runtime.plugin`) that third-party plugins use, and announced through the same
entry-point group (`rillet.plugins`, name `std`).
"""

from rillet.runtime.plugin import Plugin

from . import (
    aggregates,
    delta,
    file,
    filesink,
    functions,
    generate,
    kafka,
    kafkabroker,
    kafkashuffle,
    kafkasink,
    nats,
    natssink,
    parquet,
    postgres,
    redis_stream,
    redisbroker,
    redisstreamsink,
    shuffle,
    sqlite,
    stdio,
)

plugin = Plugin(
    "std",
    [
        s
        for m in (
            file,
            filesink,
            stdio,
            generate,
            functions,
            aggregates,
            redis_stream,
            redisstreamsink,
            shuffle,
            redisbroker,
            nats,
            natssink,
            kafka,
            kafkasink,
            kafkashuffle,
            kafkabroker,
            postgres,
            sqlite,
            parquet,
            delta,
        )
        for s in m.plugin.specs
    ],
)

__all__ = ["plugin"]
