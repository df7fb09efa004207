"""Emoji reactions: a small fixed set, and the batching that keeps a big room from flooding.

Sans-I/O. :class:`ReactionBatch` collects the reactions one node received for one room during
a short window; the node then publishes one ``reactions`` message with the counts (and the
first few names) instead of one message per reaction: 500 students applauding at once cost
each client a few messages, not 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EMOJI", "NAMES_SHOWN", "ReactionBatch"]

#: The reactions a participant may send (anything else is refused: no free text here).
EMOJI = ("👍", "👏", "❤️", "😂", "😮", "🎉")
#: How many senders a batch names (the rest are counted).
NAMES_SHOWN = 3


@dataclass(slots=True)
class ReactionBatch:
    counts: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    #: participant ids named in this batch (one name each, however often they reacted).
    _named: set[str] = field(default_factory=set)

    def add(self, participant_id: str, name: str, emoji: str) -> None:
        """Count one reaction (``emoji`` must be one of :data:`EMOJI`: checked by the
        caller's decoder)."""
        self.counts[emoji] = self.counts.get(emoji, 0) + 1
        if participant_id not in self._named and len(self.names) < NAMES_SHOWN:
            self._named.add(participant_id)
            self.names.append(name)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def message(self) -> dict[str, object]:
        """The ``reactions`` message for this batch: counts in :data:`EMOJI` order."""
        counts = {e: self.counts[e] for e in EMOJI if e in self.counts}
        return {"type": "reactions", "counts": counts, "names": list(self.names)}
