"""What most browser tests do first: a teacher schedules a class and starts it, students join
it; and the two waits they all use (a page's state, a video really playing)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.web.browser import WAIT_MS, sign_in

__all__ = ["VIDEO_PLAYING", "choose", "join", "schedule", "start", "state", "video_playing"]

# The video has frames and they advance: it is really playing. Synchronous (a predicate that
# returned a promise would count as truthy at once): the first call notes the time reached.
VIDEO_PLAYING = """(selector) => {
  const video = document.querySelector(selector);
  if (!video || video.videoWidth === 0 || video.readyState < 2) return false;
  window.videoSeen ??= new Map();
  if (!window.videoSeen.has(video)) window.videoSeen.set(video, video.currentTime);
  return video.currentTime > window.videoSeen.get(video) + 0.5;
}"""


async def video_playing(page: Page, selector: str, *, timeout_ms: int = WAIT_MS) -> None:
    await page.evaluate("() => { window.videoSeen = new Map(); }")
    await page.wait_for_function(VIDEO_PLAYING, arg=selector, timeout=timeout_ms, polling=100)


async def state(page: Page, name: str) -> None:
    await expect(page.locator("main")).to_have_attribute("data-state", name)


async def schedule(teacher: Page, title: str, *, seats: int | None = None) -> str:
    """Tina Teacher signs in and schedules a class; returns its session id."""
    await sign_in(teacher, "Tina Teacher")
    await teacher.get_by_label("Title").fill(title)
    if seats is not None:
        await teacher.get_by_label("Seats").fill(str(seats))
    await teacher.get_by_role("button", name="Schedule").click()
    await state(teacher, "not-started")
    return teacher.url.split("session=")[1]


async def start(teacher: Page, title: str, *, seats: int | None = None) -> str:
    """:func:`schedule`, then Start class (her camera goes on); returns the session id."""
    session_id = await schedule(teacher, title, seats=seats)
    await teacher.get_by_role("button", name="Start class").click()
    await state(teacher, "live")
    return session_id


async def join(page: Page, name: str, session_id: str) -> None:
    """A student (a preset of the development sign-in) signs in and enters the live class."""
    await sign_in(page, name, next_path=f"/classroom.html?session={session_id}")
    await state(page, "live")


async def choose(teacher: Page, name: str) -> None:
    """The teacher chooses ``name`` in the roster: the actions for that person appear."""
    await teacher.get_by_role("button", name=f"Choose {name}").click()
    await expect(teacher.get_by_role("group", name=f"Actions for {name}")).to_be_visible()


async def teacher_tile(teacher: Page) -> str:
    """The selector of the teacher's video tiles (camera, and screen when she shares one) on
    everyone else's page."""
    teacher_id = await teacher.evaluate("() => window.liveclassRoom.me.id")
    return f'#stage video[data-participant="{teacher_id}"]'


async def join_and_watch_the_teacher(
    teacher: Page, students: dict[str, Page], session_id: str
) -> str:
    """Each student (name → page) joins the live class, and each sees the teacher's camera
    playing; returns the selector of her tile (:func:`teacher_tile`)."""
    for name, page in students.items():
        await join(page, name, session_id)
    tile = await teacher_tile(teacher)
    for page in students.values():
        await video_playing(page, tile)
    return tile
