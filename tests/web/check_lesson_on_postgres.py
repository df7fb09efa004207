"""A lesson's chat on PostgreSQL + Redis in Debian's Chromium, checked by hand (not collected).

Tina (the teacher, desktop) starts a class, Sam (desktop) and Sue (phone, 375 px) join; Sam
says good morning, Tina welcomes everyone, Sue sends five in a row, Sam reloads and writes
again. Every page must show every message in order with no error and an empty input (each
acknowledged), and the history must hold them after the reload. Screenshots go to --shots.

    A scratch database, migrated, first:
    psql -h 127.0.0.1 -U postgres -d test -c "create database lead_browser"
    LIVECLASS_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/lead_browser \\
        .venv/bin/liveclass db upgrade
    .venv/bin/python -m tests.web.check_lesson_on_postgres --shots /tmp/shots
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from playwright.async_api import Page, expect

from tests.web.browser import chromium, open_page, server
from tests.web.lesson import join, start


async def say(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_label("Message").press("Enter")


async def lesson(database_url: str, redis_url: str, shots: Path) -> None:
    env = {"LIVECLASS_DATABASE_URL": database_url, "LIVECLASS_REDIS_URL": redis_url}
    with tempfile.TemporaryDirectory() as tmp:
        async with server(Path(tmp), env) as node, chromium() as browser:
            _, tina = await open_page(browser, node)
            _, sam = await open_page(browser, node)
            _, sue = await open_page(browser, node, width=375, height=740)
            sid = await start(tina, "Durable chat on PostgreSQL")
            await join(sam, "Sam Student", sid)
            await join(sue, "Sue Student", sid)
            await say(sam, "Good morning from Sam")
            for page in (tina, sam, sue):
                await expect(page.locator("#chat")).to_contain_text("Good morning from Sam")
            await say(tina, "Welcome, everyone")
            for i in range(5):
                await say(sue, f"Sue burst {i}")
            for page in (tina, sam, sue):
                await expect(page.locator("#chat")).to_contain_text("Sue burst 4")
                await expect(page.locator("#chat-error")).to_be_hidden()
                await expect(page.get_by_label("Message")).to_have_value("")
            await sam.reload()
            await expect(sam.locator("main")).to_have_attribute("data-state", "live")
            await expect(sam.locator("#chat")).to_contain_text("Sue burst 4")
            await say(sam, "Back after a reload")
            await expect(sue.locator("#chat")).to_contain_text("Back after a reload")
            print("Sue's chat:\n" + await sue.locator("#chat").inner_text())
            for page, name in ((tina, "tina"), (sam, "sam"), (sue, "sue-phone")):
                await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            errors = [line for line in node.log if "Traceback" in line or "ERROR" in line]
            print("errors in the server's log:", errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/lead_browser"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--shots", type=Path, default=Path("/tmp/liveclass-shots"))
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    asyncio.run(lesson(args.database_url, args.redis_url, args.shots))


if __name__ == "__main__":
    main()
