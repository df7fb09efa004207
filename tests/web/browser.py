"""Real Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a real
``liveclass serve`` process, for the browser tests.

Chromium runs headless with a fake camera and microphone (a moving test pattern and a beep)
and without permission prompts. Waits are on page conditions with generous bounds: only a
failing test waits that long. Screenshots go to :func:`artifacts_dir`.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.integration.cluster import Node, start_node

__all__ = [
    "CHROMIUM",
    "WAIT_MS",
    "Shots",
    "artifacts_dir",
    "chromium",
    "open_page",
    "server",
    "sign_in",
    "sign_in_as",
]

CHROMIUM = "/usr/bin/chromium"
_CHROMIUM_PRESENT = Path(CHROMIUM).exists()
#: Bound of every wait on a page condition (ms): generous, for a loaded two-core machine.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)
ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Two cores shared by several suites: keep Chromium's own appetite small.
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--renderer-process-limit=8",
]


def artifacts_dir(name: str) -> Path:
    """Where a test keeps its screenshots: $LIVECLASS_TEST_ARTIFACTS or tests/web/artifacts,
    then the test's name."""
    root = Path(os.environ.get("LIVECLASS_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
    path = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Shots:
    """Numbered screenshots of a test's steps."""

    def __init__(self, name: str) -> None:
        self.dir = artifacts_dir(name)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0
        print(f"screenshots: {self.dir}")

    async def take(self, page: Page, step: str, *, full_page: bool = True) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=full_page)
        return path


@asynccontextmanager
async def server(tmp_path: Path, env: dict[str, str] | None = None) -> AsyncIterator[Node]:
    """``liveclass serve`` on its embedded defaults (SQLite, fakeredis, in-process media
    worker), development mode, on a free port."""
    async with start_node("web", env or {}, tmp_path / "data", startup_timeout=90) as node:
        try:
            yield node
        except BaseException:
            # A failing browser test shows what the server said (pytest prints it).
            print("---- server log ----", *node.log[-400:], sep="\n")
            raise


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """Headless Chromium with the fake devices (``extra_args``: more flags, say a sound file
    for the fake microphone)."""
    if not _CHROMIUM_PRESENT:
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-browser.sh (Debian's chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *extra_args], timeout=WAIT_MS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_page(
    browser: Browser, node: Node, *, width: int = 1280, height: int = 800
) -> tuple[BrowserContext, Page]:
    """A new person: their own context (cookies, storage) and page."""
    context = await browser.new_context(
        base_url=node.http, viewport={"width": width, "height": height}
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    page.on("console", lambda m: print(f"[{width}px console.{m.type}] {m.text}"))
    page.on("pageerror", lambda e: print(f"[{width}px pageerror] {e}"))
    return context, page


async def sign_in(page: Page, preset: str, *, next_path: str = "/") -> None:
    """Sign in with the development sign-in page (``preset``: "Tina Teacher", ...)."""
    await page.goto(f"/dev/signin?next={next_path}")
    role = {"Tina": "instructor", "Ada": "admin"}.get(preset.split()[0], "student")
    await page.get_by_label("Quick pick").select_option(label=f"{preset} ({role})")
    await page.get_by_role("button", name="Sign in").first.click()
    await page.wait_for_url(lambda url: "signin" not in url)
    if next_path == "/":
        await expect(page.locator("#who")).to_contain_text(preset.split()[0])


async def sign_in_as(page: Page, name: str, user_id: str, *, next_path: str = "/") -> None:
    """Sign in as a student who is not one of the development sign-in's presets."""
    await page.goto(f"/dev/signin?next={next_path}")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("User id").fill(user_id)
    await page.get_by_role("button", name="Sign in").first.click()
    await page.wait_for_url(lambda url: "signin" not in url)
