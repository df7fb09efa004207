"""Which database errors mean "unavailable" (503, a queued leave) rather than a bug."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from rooms.store.availability import database_unavailable


class _Orig(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("x")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "unavailable"),
    [("53300", True), ("57P03", True), ("08006", True), ("23505", False), (None, False)],
)
def test_sqlstate_classes(sqlstate: str | None, unavailable: bool) -> None:
    error = DBAPIError("SELECT 1", {}, _Orig(sqlstate))
    assert database_unavailable(error) is unavailable


def test_exception_types() -> None:
    assert database_unavailable(OperationalError("SELECT 1", {}, _Orig(None)))
    assert not database_unavailable(IntegrityError("INSERT", {}, _Orig("23505")))
    assert database_unavailable(ConnectionRefusedError())
    assert database_unavailable(TimeoutError())
    assert not database_unavailable(ValueError())
