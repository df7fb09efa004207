"""Plain INSERT statements compiled once per (table, columns) for a dialect, with each
column's bind processor: what the writers past the ORM (``sqlite_writer.py``,
``pg_writer.py``) send as positional parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.engine import Dialect

__all__ = ["CompiledInserts", "InsertBatch", "Processor"]

#: A column type's conversion of a Python value to the driver's, or None when there is none.
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class InsertBatch:
    """Rows of one table with the same columns: the INSERT's SQL and each row's positional
    parameters (bind processors applied), with the rows themselves."""

    table: Table
    sql: str
    params: list[tuple[Any, ...]]
    rows: list[dict[str, Any]]


class CompiledInserts:
    """A cache of compiled INSERTs for one dialect. Not thread-safe: use it from one thread."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._statements: dict[tuple[Table, tuple[str, ...]], tuple[str, list[Processor]]] = {}

    def statement(self, table: Table, names: tuple[str, ...]) -> tuple[str, list[Processor]]:
        """The SQL inserting ``names`` (its positional parameters in that order) and their
        bind processors; ValueError if the dialect would order the parameters otherwise."""
        key = (table, names)
        hit = self._statements.get(key)
        if hit is None:
            stmt = insert(table).values({name: bindparam(name) for name in names})
            compiled = stmt.compile(dialect=self._dialect)
            order: Sequence[str] = compiled.positiontup or ()
            if list(order) != list(names):
                raise ValueError(f"unexpected parameter order for {table.name}: {order}")
            processors: list[Processor] = [
                table.c[n].type.dialect_impl(self._dialect).bind_processor(self._dialect)
                for n in names
            ]
            hit = self._statements[key] = (compiled.string, processors)
        return hit

    def batches(self, rows: dict[Table, list[dict[str, Any]]]) -> Iterator[InsertBatch]:
        """``rows`` (column name → value, per table) as one batch per table and set of columns
        (a row missing a column gets its server default, as with Core)."""
        for table, values in rows.items():
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in values:
                groups.setdefault(tuple(row), []).append(row)
            for names, group in groups.items():
                sql, processors = self.statement(table, names)
                pairs = list(zip(names, processors, strict=True))
                params = [tuple(p(r[n]) if p else r[n] for n, p in pairs) for r in group]
                yield InsertBatch(table, sql, params, group)
