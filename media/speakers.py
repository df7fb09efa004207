"""Who is speaking, from the audio levels publishers put in their RTP packets (RFC 6464).

Browsers send each Opus packet's level in the ``ssrc-audio-level`` header extension: 0 is the
loudest (0 dBov), 127 silence. Nothing is decoded. Per participant, the loudness (127 minus
the level) is smoothed over the last few hundred milliseconds; a participant starts speaking
when it rises above ``start`` and stops when it falls below ``stop`` (hysteresis, so a pause
between two words does not flicker) or when their packets stop coming.

Sans-I/O: :meth:`ActiveSpeakers.level` is called per packet (cheap: a multiply and an add),
:meth:`ActiveSpeakers.speaking` when the room wants the list (a few times a second).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ActiveSpeakers"]


@dataclass(slots=True)
class _Voice:
    loudness: float = 0.0
    last_at: float = 0.0
    speaking: bool = False


class ActiveSpeakers:
    """The active speakers of one room.

    - ``start`` / ``stop``: smoothed loudness (127 - level) at which one starts / stops
      speaking: the defaults start at -50 dBov (quiet speech) and stop below -60 dBov.
    - ``smoothing``: weight of each new packet (20 ms of audio); 0.1 is a ~200 ms average.
    - ``silence_after``: seconds without a packet after which one is silent (a muted or
      discontinuous sender sends few).
    - ``most``: how many speakers are reported, loudest first.
    """

    def __init__(
        self,
        *,
        start: float = 127 - 50,
        stop: float = 127 - 60,
        smoothing: float = 0.1,
        silence_after: float = 0.6,
        most: int = 3,
    ) -> None:
        if not 0 < smoothing <= 1 or stop > start:
            raise ValueError("smoothing must be in (0, 1] and stop must not exceed start")
        self._start, self._stop = start, stop
        self._smoothing = smoothing
        self._silence_after = silence_after
        self._most = most
        self._voices: dict[str, _Voice] = {}

    def level(self, participant_id: str, level: int, now: float) -> None:
        """One packet's level (0 loudest … 127 silence) from ``participant_id``."""
        voice = self._voices.get(participant_id)
        if voice is None:
            voice = self._voices[participant_id] = _Voice()
        voice.loudness += self._smoothing * ((127 - min(max(level, 0), 127)) - voice.loudness)
        voice.last_at = now

    def remove(self, participant_id: str) -> None:
        """They stopped publishing: silent from now on."""
        self._voices.pop(participant_id, None)

    def speaking(self, now: float) -> list[str]:
        """Who speaks now, loudest first (at most ``most``)."""
        for voice in self._voices.values():
            if now - voice.last_at > self._silence_after:
                voice.speaking, voice.loudness = False, 0.0
            elif voice.speaking:
                voice.speaking = voice.loudness >= self._stop
            else:
                voice.speaking = voice.loudness >= self._start
        loud = sorted(
            (pid for pid, v in self._voices.items() if v.speaking),
            key=lambda pid: -self._voices[pid].loudness,
        )
        return loud[: self._most]
