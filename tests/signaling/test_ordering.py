"""SeqOrder: a room's reliable messages back in seq order, gaps waited for at most a window;
and the welcome's seq, which what the order delivered bounds."""

from __future__ import annotations

from typing import Any

from signaling.admission import welcome_seq
from signaling.ordering import SeqOrder


def m(seq: int) -> dict[str, Any]:
    return {"type": "chat", "seq": seq}


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [message["seq"] for message in messages]


def test_messages_out_of_order_are_put_back_in_order() -> None:
    order = SeqOrder(window=1.0)
    order.start_at(4)
    assert seqs(order.push(m(6), 0.0)) == []
    assert seqs(order.push(m(7), 0.1)) == []
    assert seqs(order.push(m(5), 0.2)) == [5, 6, 7]
    assert order.deadline is None
    assert order.push({"type": "pong"}, 0.3) == [{"type": "pong"}]  # not reliable: at once


def test_a_gap_that_never_fills_is_skipped_after_the_window() -> None:
    order = SeqOrder(window=1.0)
    order.start_at(0)
    assert seqs(order.push(m(2), 0.0)) == []
    assert seqs(order.push(m(4), 0.5)) == []
    assert order.deadline == 1.0
    assert order.expire(0.9) == []
    assert seqs(order.expire(1.0)) == [2, 4]
    assert seqs(order.push(m(1), 1.1)) == [1]  # late, still delivered
    assert seqs(order.push(m(5), 1.2)) == [5]


def test_a_new_wait_starts_when_an_earlier_gap_filled() -> None:
    order = SeqOrder(window=1.0)
    order.start_at(0)
    order.push(m(2), 0.0)
    order.push(m(4), 0.1)
    assert seqs(order.push(m(1), 0.8)) == [1, 2]
    assert order.deadline == 1.8  # 4 waits for 3 from now on


def test_a_catch_up_skips_what_it_delivered() -> None:
    order = SeqOrder(window=1.0)
    order.start_at(0)
    order.push(m(3), 0.0)
    order.skip_to(3)
    assert order.deadline is None
    assert seqs(order.push(m(4), 0.1)) == [4]


def test_too_many_waiting_go_out_at_once() -> None:
    order = SeqOrder(window=60.0, max_waiting=3)
    order.start_at(0)
    for seq in (2, 3, 4):
        assert order.push(m(seq), 0.0) == []
    assert seqs(order.push(m(5), 0.0)) == [2, 3, 4, 5]


def test_a_welcome_seq_covers_what_the_room_delivered_before_the_connection() -> None:
    """On Redis the welcome's counter is read at admission, before the connection is
    registered: what the room delivered here in between raises it (the connection never
    gets those), what is not delivered yet does not (it reaches the connection)."""
    order = SeqOrder(window=1.0)
    order.start_at(4)
    read = 4  # the counter when the admission ran
    assert seqs(order.push(m(5), 0.0)) == [5]
    assert seqs(order.push(m(6), 0.0)) == [6]
    assert welcome_seq(read, order.expected) == 6
    assert seqs(order.push(m(8), 0.1)) == []  # waits for 7: not delivered yet
    assert welcome_seq(read, order.expected) == 6
    assert welcome_seq(9, order.expected) == 9  # handed out, still on the way here
    assert welcome_seq(3, None) == 3  # nothing delivered here yet


def test_a_number_delivered_once_is_not_delivered_again() -> None:
    """A node delivers its own chat as soon as it is published; the bus's echo comes after."""
    order = SeqOrder(window=1.0)
    order.start_at(0)
    assert seqs(order.push(m(1), 0.0)) == [1]
    assert order.seen(m(1))
    assert order.push(m(1), 0.1) == []  # the echo
    assert seqs(order.push(m(3), 0.2)) == []  # waits for 2...
    assert order.push(m(3), 0.3) == []  # ...once, however often it comes
    assert seqs(order.push(m(2), 0.4)) == [2, 3]
    assert order.push(m(2), 0.5) == []
    assert order.push(m(3), 0.6) == []


def test_a_late_message_after_a_skipped_gap_is_delivered_once() -> None:
    order = SeqOrder(window=1.0)
    order.start_at(0)
    assert seqs(order.push(m(2), 0.0)) == []
    assert seqs(order.expire(1.0)) == [2]
    assert seqs(order.push(m(1), 1.1)) == [1]
    assert order.push(m(1), 1.2) == []


def test_only_the_last_numbers_are_remembered() -> None:
    """A skipped gap's numbers are remembered as undelivered for the last ``remembered``
    numbers only; an older one counts as delivered. A room's run of numbers in order keeps
    nothing per number."""
    order = SeqOrder(window=1.0, remembered=3)
    order.start_at(0)
    for seq in range(1, 10_001):
        assert seqs(order.push(m(seq), 0.0)) == [seq]
    assert order._passed == set()  # nothing per number
    assert order._outside == set()
    assert seqs(order.push(m(10_010), 0.0)) == []
    assert seqs(order.expire(1.0)) == [10_010]
    assert [seq for seq in range(10_001, 10_010) if not order.seen(m(seq))] == [
        10_007,
        10_008,
        10_009,
    ]
    assert seqs(order.push(m(10_008), 1.1)) == [10_008]
    assert order.push(m(10_008), 1.2) == []
    assert order.push(m(10_005), 1.3) == []  # older than the last three: counts as delivered


def test_a_late_number_before_the_first_is_not_delivered_again_once_forgotten() -> None:
    """Forgotten numbers count as delivered wherever they fell: one that came late before the
    room's first delivery here too, not only one a skipped gap passed over."""
    order = SeqOrder(window=1.0, remembered=3)
    order.start_at(10)
    assert seqs(order.push(m(9), 0.0)) == [9]  # late: delivered once
    for seq in range(11, 21):
        assert seqs(order.push(m(seq), 0.0)) == [seq]
    for ahead in (25, 26, 27):  # a catch-up's numbers: 9 is no longer remembered
        order.note_delivered(ahead)
    assert order.push(m(9), 0.1) == []
    assert order.delivered(9)


def test_a_number_delivered_another_way_is_not_delivered_again() -> None:
    """A catch-up after a bus loss sends what the room missed itself; when the bus brings one
    of those late after all, it is a repeat."""
    order = SeqOrder(window=1.0)
    order.start_at(0)
    assert seqs(order.push(m(1), 0.0)) == [1]
    assert order.delivered(1)
    assert not order.delivered(2)
    order.note_delivered(2)
    order.skip_to(2)
    assert order.push(m(2), 0.1) == []
    assert seqs(order.push(m(3), 0.2)) == [3]
