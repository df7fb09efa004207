"""Breakout rooms' rules (rooms/breakouts.py), sans-I/O: how students are split."""

from __future__ import annotations

import random

import pytest

from rooms.breakouts import MAX_ROOMS, Student, check_duration, plan_rooms
from rooms.errors import ValidationFailed


def students(n: int) -> list[Student]:
    return [Student(f"u{i}", f"Student {i}") for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 4, 7, 23, 500])
@pytest.mark.parametrize("count", [1, 2, 3, 5, MAX_ROOMS])
def test_automatic_rooms_are_balanced_and_hold_everyone_once(n: int, count: int) -> None:
    plan = plan_rooms(students(n), count, rng=random.Random(n * 31 + count))
    sizes = [len(room.members) for room in plan]
    assert len(plan) == count
    assert max(sizes) - min(sizes) <= 1
    placed = [m.user_id for room in plan for m in room.members]
    assert sorted(placed) == sorted(s.user_id for s in students(n))


def test_four_students_in_rooms_of_two_without_shuffle_keep_their_order() -> None:
    plan = plan_rooms(students(4), 2)
    assert [[m.user_id for m in room.members] for room in plan] == [["u0", "u2"], ["u1", "u3"]]
    assert [room.name for room in plan] == ["Room 1", "Room 2"]


def test_the_shuffle_depends_on_the_random_source() -> None:
    a = plan_rooms(students(20), 4, rng=random.Random(1))
    b = plan_rooms(students(20), 4, rng=random.Random(2))
    assert a != b
    assert a == plan_rooms(students(20), 4, rng=random.Random(1))


def test_a_student_listed_twice_is_placed_once() -> None:
    plan = plan_rooms([*students(3), Student("u0", "again")], 2)
    assert sum(len(r.members) for r in plan) == 3


def test_by_hand_places_whom_the_host_said_and_leaves_the_others() -> None:
    plan = plan_rooms(students(4), 3, manual={"u0": 2, "u3": 2, "u1": 0, "late": 1})
    assert [m.user_id for m in plan[2].members] == ["u0", "u3"]
    assert [m.user_id for m in plan[0].members] == ["u1"]
    # someone not present yet is placed by id; u2 stays in the main room
    assert plan[1].members == (Student("late", "late"),)
    assert "u2" not in {m.user_id for r in plan for m in r.members}


@pytest.mark.parametrize("index", [-1, 3, 99])
def test_by_hand_a_room_that_does_not_exist_is_refused(index: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        plan_rooms(students(2), 3, manual={"u0": index})
    assert caught.value.code == "invalid_breakout"


@pytest.mark.parametrize("count", [0, -2, MAX_ROOMS + 1])
def test_room_count_out_of_range(count: int) -> None:
    with pytest.raises(ValidationFailed):
        plan_rooms(students(2), count)


def test_names() -> None:
    plan = plan_rooms(students(2), 2, names=[" Lions ", "Tigers"])
    assert [r.name for r in plan] == ["Lions", "Tigers"]
    for bad in (["One"], ["A", "A"], ["A", ""], ["A", "x" * 61]):
        with pytest.raises(ValidationFailed):
            plan_rooms(students(2), 2, names=bad)


def test_timer_bounds() -> None:
    assert check_duration(None) is None
    assert check_duration(60) == 60
    assert check_duration(4 * 3600) == 4 * 3600
    for bad in (59, 0, 4 * 3600 + 1):
        with pytest.raises(ValidationFailed):
            check_duration(bad)
