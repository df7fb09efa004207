"""The talk-time clock (rooms/talk_time.py) without any I/O: speaker updates with their
times in, seconds spoken per participant out."""

from __future__ import annotations

import pytest

from rooms.talk_time import TalkClock


def test_a_speaker_counts_from_the_update_naming_them_to_the_one_that_does_not() -> None:
    clock = TalkClock()
    clock.heard(["ann"], 10.0)
    clock.heard(["ann", "bob"], 11.0)  # a repeat (ann) and a new speaker
    clock.heard(["bob"], 12.5)
    clock.heard([], 13.0)
    assert clock.take(20.0) == {"ann": 2.5, "bob": 2.0}
    assert clock.take(30.0) == {}  # taken: counted once
    assert not clock


def test_a_lost_update_counts_at_most_the_gap() -> None:
    clock = TalkClock(max_gap=3.0)
    clock.heard(["ann"], 0.0)
    clock.heard([], 600.0)  # ten minutes without a word from the SFU
    assert clock.take(600.0) == {"ann": 3.0}


def test_take_counts_speech_in_progress_and_goes_on_from_there() -> None:
    clock = TalkClock(max_gap=3.0)
    clock.heard(["ann"], 0.0)
    assert clock.take(2.0) == {"ann": 2.0}
    assert clock.speaking == {"ann"}
    clock.heard(["ann"], 3.0)
    clock.heard([], 4.0)
    assert clock.take(4.0) == {"ann": 2.0}
    # no update for longer than the gap: counted up to the gap, then no longer speaking
    clock.heard(["bob"], 10.0)
    assert clock.take(50.0) == {"bob": 3.0}
    assert clock.speaking == set()
    assert clock.take(60.0) == {}


def test_leaving_stops_the_count() -> None:
    clock = TalkClock()
    clock.heard(["ann", "bob"], 0.0)
    clock.stop("ann", 1.0)
    clock.stop("nobody", 1.0)
    assert clock.speaking == {"bob"}
    clock.heard(["ann", "bob"], 2.0)  # named again: counts again
    clock.heard([], 2.5)
    assert clock.take(3.0) == {"ann": 1.5, "bob": 2.5}


def test_time_going_backwards_counts_nothing_and_the_gap_must_be_positive() -> None:
    clock = TalkClock()
    clock.heard(["ann"], 5.0)
    clock.heard([], 4.0)
    assert clock.take(4.0) == {}
    with pytest.raises(ValueError, match="max_gap"):
        TalkClock(max_gap=0)
