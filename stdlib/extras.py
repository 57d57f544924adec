"""The client libraries the broker and database connectors need, each an extra of the package:
`pip install rillet` reads and writes files, stdio, sqlite and generated data; a pipeline that
names a connector whose library is missing is stopped by the checker with the `pip install`
to run (`Spec.needs`)."""

REDIS = ("redis", "rillet[redis]")
NATS = ("nats", "rillet[nats]")
POSTGRES = ("psycopg", "rillet[postgres]")
KAFKA = ("confluent_kafka", "rillet[kafka]")
PARQUET = ("pyarrow", "rillet[parquet]")
DELTA = ("deltalake", "rillet[delta]")
