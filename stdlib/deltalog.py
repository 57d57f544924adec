"""The `delta` sink's calls into the `deltalake` package (delta.py owns the protocol with the
runtime): imported only by the runs that use it. Blocking calls, run in a worker thread by the
sink.

Each epoch is one commit: an append, or with a key a merge (when matched update all, when not
matched insert all), carrying the application transaction `(app_id, epoch)` and the rillet
facts in its custom metadata, in the same commit: the table's log says which epoch of which
sink made each version, and `committed_epoch` reads the newest back after a crash.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

__all__ = ["DeltaError", "DeltaLog"]


class DeltaLog:
    def __init__(
        self, path: Path, app_id: str, key: tuple[str, ...], partition_by: tuple[str, ...]
    ) -> None:
        self.uri = str(path)
        self.app_id = app_id
        self.key = key
        self.partition_by = list(partition_by)

    def _table(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri)
        except TableNotFoundError:
            return None

    def committed_epoch(self) -> int:
        """The newest epoch this writer committed to the table (0 when none, or no table)."""
        table = self._table()
        return (table.transaction_version(self.app_id) or 0) if table is not None else 0

    def schema(self) -> pa.Schema | None:
        table = self._table()
        return None if table is None else pa.schema(table.schema().to_arrow())

    def commit(self, rows: pa.Table, epoch: int, metadata: dict[str, str]) -> None:
        """Commit `rows` as one table version recording `epoch` as this writer's transaction."""
        properties = CommitProperties(
            custom_metadata={**metadata, "rillet.checkpoint": str(epoch)},
            app_transactions=[Transaction(self.app_id, epoch)],
        )
        table = self._table()
        if table is None or not self.key:
            write_deltalake(
                self.uri,
                rows,
                mode="append",
                partition_by=self.partition_by or None,
                schema_mode="merge" if table is not None else None,
                commit_properties=properties,
            )
            return
        matching = " AND ".join(f"t.{_quoted(f)} = s.{_quoted(f)}" for f in self.key)
        (
            table.merge(
                rows,
                predicate=matching,
                source_alias="s",
                target_alias="t",
                commit_properties=properties,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
