"""Who is speaking, in real Chromium (issue 13): the teacher's fake microphone plays a steady
tone; the student sees her tile highlighted as speaking, then marked "Muted" (and no longer
speaking) when she mutes, then speaking again when she unmutes: each within about a second."""

from __future__ import annotations

import math
import struct
import time
import wave
from pathlib import Path

from playwright.async_api import Page, expect

from tests.web.browser import Shots, chromium, open_page, server
from tests.web.lesson import join, start, video_playing

#: The acceptance target is 1 s; the bound is wider so a loaded CI machine does not fail a
#: working build (the measured figures are printed).
WITHIN_MS = 5_000


def _tone(path: Path, seconds: float = 2.0, rate: int = 48_000) -> Path:
    """A steady 440 Hz tone at about -12 dBFS (Chromium loops the file)."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


async def _seen(page: Page, locator: str, *, count: int) -> float:
    started = time.monotonic()
    await expect(page.locator(locator)).to_have_count(count, timeout=WITHIN_MS)
    return time.monotonic() - started


async def test_the_speaking_teacher_is_highlighted_and_her_mute_shown(tmp_path: Path) -> None:
    shots = Shots("speakers")
    tone = _tone(tmp_path / "tone.wav")
    async with (
        server(tmp_path) as node,
        chromium(f"--use-file-for-fake-audio-capture={tone}") as browser,
    ):
        _, teacher = await open_page(browser, node)
        _, student = await open_page(browser, node, width=375, height=800)
        session_id = await start(teacher, "Listen")
        await join(student, "Sam Student", session_id)
        teacher_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
        tile = f"#stage figure[data-participant='{teacher_id}'][data-source='camera']"
        await video_playing(student, f"{tile} video")

        await _seen(student, f"{tile}.speaking", count=1)
        await shots.take(student, "teacher-speaking-375px")

        await teacher.get_by_role("button", name="Mute microphone").click()
        muted = await _seen(student, f"{tile} .mic-muted", count=1)
        quiet = await _seen(student, f"{tile}.speaking", count=0)
        await expect(student.locator(f"{tile} .mic-muted")).to_have_attribute(
            "aria-label", "microphone muted"
        )
        await shots.take(student, "teacher-muted-375px")

        await teacher.get_by_role("button", name="Unmute microphone").click()
        speaking = await _seen(student, f"{tile}.speaking", count=1)
        await _seen(student, f"{tile} .mic-muted", count=0)
        print(
            f"seen by the student: muted mark {muted:.2f} s after the mute, highlight gone "
            f"{quiet:.2f} s after that, highlight back {speaking:.2f} s after the unmute"
        )
        await shots.take(student, "teacher-speaking-again-375px")
