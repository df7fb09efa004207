"""rooms.access: who may manage, join and enroll in a session. Pure functions, no database."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

import pytest

from rooms.access import (
    Permissions,
    can_manage,
    is_owner,
    needs_enrollment,
    permissions,
    room_role_for,
)
from rooms.identity import Principal, UserRole
from rooms.model import RoomRole, SessionStatus
from rooms.store.tables import SessionRow

TEACHER = Principal("teacher-1", "Tina", UserRole.INSTRUCTOR, "acme")
OTHER_TEACHER = Principal("teacher-2", "Otto", UserRole.INSTRUCTOR, "acme")
STUDENT = Principal("student-1", "Sam", UserRole.STUDENT, "acme")
ADMIN = Principal("admin-1", "Ada", UserRole.ADMIN, "acme")
# Same user id as the acme teacher, but another tenant: not the owner.
TEACHER_TWIN = Principal("teacher-1", "Twin", UserRole.INSTRUCTOR, "globex")
OUTSIDE_ADMIN = Principal("admin-9", "Gus", UserRole.ADMIN, "globex")
OUTSIDE_STUDENT = Principal("student-9", "Olga", UserRole.STUDENT, "globex")

ALL_FALSE = Permissions(False, False, False, False, False, False, False, False)


def session(
    *,
    status: SessionStatus = SessionStatus.SCHEDULED,
    price: str = "0",
    requires_enrollment: bool = False,
    enrolled_count: int = 0,
    max_participants: int = 10,
) -> SessionRow:
    return SessionRow(
        id="00000000-0000-4000-8000-000000000001",
        tenant_id="acme",
        room_name="algebra",
        instructor_id="teacher-1",
        instructor_name="Tina",
        title="Algebra",
        status=status.value,
        price=Decimal(price),
        currency="USD" if Decimal(price) > 0 else None,
        requires_enrollment=requires_enrollment,
        enrolled_count=enrolled_count,
        max_participants=max_participants,
    )


# -- ownership and management ---------------------------------------------------------------


def test_owner_is_the_instructor_in_the_sessions_tenant() -> None:
    row = session()
    assert is_owner(TEACHER, row) is True
    assert is_owner(OTHER_TEACHER, row) is False
    assert is_owner(ADMIN, row) is False
    assert is_owner(TEACHER_TWIN, row) is False


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (TEACHER, True),
        (ADMIN, True),
        (OTHER_TEACHER, False),
        (STUDENT, False),
        (TEACHER_TWIN, False),
        (OUTSIDE_ADMIN, False),
        (OUTSIDE_STUDENT, False),
    ],
)
def test_can_manage(principal: Principal, expected: bool) -> None:
    assert can_manage(principal, session()) is expected


@pytest.mark.parametrize(
    ("price", "requires", "expected"),
    [("0", False, False), ("0", True, True), ("0.01", False, True), ("25", True, True)],
)
def test_needs_enrollment(price: str, requires: bool, expected: bool) -> None:
    assert needs_enrollment(session(price=price, requires_enrollment=requires)) is expected


# -- room roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("enrolled", [False, True])
def test_room_role_free_session(enrolled: bool) -> None:
    row = session()
    assert room_role_for(TEACHER, row, enrolled=enrolled) is RoomRole.HOST
    assert room_role_for(ADMIN, row, enrolled=enrolled) is RoomRole.OBSERVER
    assert room_role_for(STUDENT, row, enrolled=enrolled) is RoomRole.GUEST
    assert room_role_for(OTHER_TEACHER, row, enrolled=enrolled) is RoomRole.GUEST


@pytest.mark.parametrize(
    "row",
    [session(price="9.99"), session(requires_enrollment=True)],
    ids=["paid", "requires-enrollment"],
)
def test_room_role_gated_session(row: SessionRow) -> None:
    assert room_role_for(STUDENT, row, enrolled=False) is None
    assert room_role_for(STUDENT, row, enrolled=True) is RoomRole.GUEST
    assert room_role_for(OTHER_TEACHER, row, enrolled=False) is None
    # The instructor and admins never need to enroll.
    assert room_role_for(TEACHER, row, enrolled=False) is RoomRole.HOST
    assert room_role_for(ADMIN, row, enrolled=False) is RoomRole.OBSERVER


@pytest.mark.parametrize("principal", [TEACHER_TWIN, OUTSIDE_ADMIN, OUTSIDE_STUDENT])
@pytest.mark.parametrize("enrolled", [False, True])
def test_room_role_other_tenant_is_none(principal: Principal, enrolled: bool) -> None:
    assert room_role_for(principal, session(), enrolled=enrolled) is None


# -- permission flags ------------------------------------------------------------------------


def flags(
    principal: Principal | None, row: SessionRow, *, enrolled: bool = False
) -> dict[str, bool]:
    return asdict(permissions(principal, row, enrolled=enrolled))


@pytest.mark.parametrize("status", list(SessionStatus))
def test_anonymous_has_no_permissions(status: SessionStatus) -> None:
    assert permissions(None, session(status=status), enrolled=False) == ALL_FALSE
    assert permissions(None, session(status=status), enrolled=True) == ALL_FALSE


@pytest.mark.parametrize("principal", [TEACHER, ADMIN])
@pytest.mark.parametrize(
    ("status", "edit", "start", "end", "cancel", "join"),
    [
        (SessionStatus.SCHEDULED, True, True, False, True, False),
        (SessionStatus.LIVE, True, False, True, False, True),
        (SessionStatus.ENDED, False, False, False, False, False),
        (SessionStatus.CANCELLED, False, False, False, False, False),
    ],
)
def test_manager_flags_follow_the_state_machine(
    principal: Principal,
    status: SessionStatus,
    edit: bool,
    start: bool,
    end: bool,
    cancel: bool,
    join: bool,
) -> None:
    got = flags(principal, session(status=status))
    assert got["can_edit"] is edit
    assert got["can_start"] is start
    assert got["can_end"] is end
    assert got["can_cancel"] is cancel
    assert got["can_join"] is join
    assert got["is_instructor"] is (principal is TEACHER)
    assert got["is_enrolled"] is False


def test_owner_never_enrolls() -> None:
    for status in SessionStatus:
        assert flags(TEACHER, session(status=status))["can_enroll"] is False


def test_admin_of_the_tenant_may_enroll_in_an_open_session() -> None:
    assert flags(ADMIN, session())["can_enroll"] is True


@pytest.mark.parametrize("principal", [STUDENT, OTHER_TEACHER])
def test_member_flags_on_a_free_session(principal: Principal) -> None:
    assert flags(principal, session()) == {
        "can_edit": False,
        "can_start": False,
        "can_end": False,
        "can_cancel": False,
        "can_join": False,
        "can_enroll": True,
        "is_instructor": False,
        "is_enrolled": False,
    }
    live = flags(principal, session(status=SessionStatus.LIVE))
    assert live["can_join"] is True
    assert live["can_enroll"] is True
    assert (live["can_edit"], live["can_start"], live["can_end"], live["can_cancel"]) == (
        False,
        False,
        False,
        False,
    )


def test_enrolled_student_flags() -> None:
    got = flags(STUDENT, session(status=SessionStatus.LIVE, price="5"), enrolled=True)
    assert got["is_enrolled"] is True
    assert got["can_enroll"] is False
    assert got["can_join"] is True


def test_gated_live_session_needs_enrollment_to_join() -> None:
    row = session(status=SessionStatus.LIVE, requires_enrollment=True)
    assert flags(STUDENT, row)["can_join"] is False
    assert flags(STUDENT, row)["can_enroll"] is True
    assert flags(STUDENT, row, enrolled=True)["can_join"] is True


@pytest.mark.parametrize("status", [SessionStatus.ENDED, SessionStatus.CANCELLED])
def test_closed_sessions_offer_nothing_to_members(status: SessionStatus) -> None:
    got = flags(STUDENT, session(status=status), enrolled=True)
    assert got == {
        "can_edit": False,
        "can_start": False,
        "can_end": False,
        "can_cancel": False,
        "can_join": False,
        "can_enroll": False,
        "is_instructor": False,
        "is_enrolled": True,
    }


def test_full_session_cannot_be_enrolled() -> None:
    assert flags(STUDENT, session(enrolled_count=9, max_participants=10))["can_enroll"] is True
    assert flags(STUDENT, session(enrolled_count=10, max_participants=10))["can_enroll"] is False


@pytest.mark.parametrize("principal", [TEACHER_TWIN, OUTSIDE_ADMIN, OUTSIDE_STUDENT])
def test_other_tenant_cannot_manage_or_join(principal: Principal) -> None:
    got = flags(principal, session(status=SessionStatus.LIVE))
    assert got["can_edit"] is False
    assert got["can_end"] is False
    assert got["can_join"] is False
    assert got["is_instructor"] is False
