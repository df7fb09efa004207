"""Reaction batching (rooms/reactions.py): counts per emoji, a few names, no I/O."""

from __future__ import annotations

from rooms.reactions import EMOJI, NAMES_SHOWN, ReactionBatch


def test_a_batch_counts_and_names_a_few() -> None:
    batch = ReactionBatch()
    for i in range(10):
        batch.add(f"p{i}", f"Student {i}", "👏")
    batch.add("p0", "Student 0", "🎉")
    batch.add("p0", "Student 0", "👍")
    assert batch.total == 12
    message = batch.message()
    assert message["type"] == "reactions"
    assert message["counts"] == {"👍": 1, "👏": 10, "🎉": 1}  # in the fixed order
    assert list(message["counts"]) == [e for e in EMOJI if e in message["counts"]]
    assert message["names"] == [f"Student {i}" for i in range(NAMES_SHOWN)]


def test_one_name_per_sender() -> None:
    batch = ReactionBatch()
    for _ in range(5):
        batch.add("p1", "Ann", "❤️")
    batch.add("p2", "Bob", "❤️")
    assert batch.message()["names"] == ["Ann", "Bob"]
