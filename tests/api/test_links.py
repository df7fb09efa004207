"""Links in answers (issue 15, lifecycle 1 and 2): ``joinUrl`` opens the classroom; without a
configured public URL every link names the address the request came to; nothing stored names
a host, so a recording's link follows the server to a new address or port."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select

from api.settings import Settings
from rooms.store import create_database
from rooms.store.tables import SessionRow
from tests.api.helpers import own_client
from tests.api.test_recordings import webm
from tests.conftest import FakeClock, People


def without_public_url(settings_factory: Callable[..., Settings]) -> Settings:
    configured = settings_factory()
    values = {
        name: getattr(configured, name)
        for name in configured.model_fields_set
        if name != "public_url"
    }
    return Settings(**values)


async def test_join_url_opens_the_classroom(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., object]
) -> None:
    session = await new_session()  # type: ignore[misc]
    join_url = session["joinUrl"]
    assert join_url == f"http://testserver/classroom/{session['id']}"
    page = await client.get(join_url, follow_redirects=True)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert str(page.url) == f"http://testserver/classroom.html?session={session['id']}"


async def test_without_a_public_url_links_follow_the_request(
    settings_factory: Callable[..., Settings], clock: FakeClock, people: People
) -> None:
    settings = without_public_url(settings_factory)
    assert not settings.public_url_configured
    async with own_client(settings, clock) as client:
        host = {"Host": "school.example:8101"}
        created = await client.post(
            "/api/v1/sessions", json={"title": "Ports"}, headers={**people.teacher, **host}
        )
        sid = created.json()["id"]
        assert created.json()["joinUrl"] == f"http://school.example:8101/classroom/{sid}"
        token = await client.post(
            f"/api/v1/sessions/{sid}/token", headers={**people.teacher, **host}
        )
        assert token.json()["wsUrl"] == "ws://school.example:8101/ws"
        proxied = await client.get(
            f"/api/v1/sessions/{sid}",
            headers={**people.teacher, "X-Forwarded-Host": "classes.example.org"},
        )
        assert proxied.json()["joinUrl"] == f"http://classes.example.org/classroom/{sid}"

        await client.post(f"/api/v1/sessions/{sid}/start", headers=people.teacher)
        files = {"file": ("class.webm", webm(), "video/webm")}
        uploaded = await client.post(
            f"/api/v1/sessions/{sid}/recordings", files=files, headers={**people.teacher, **host}
        )
        assert uploaded.json()["downloadLink"].startswith("http://school.example:8101/api/v1/")
        assert uploaded.json()["accessLink"]["url"].startswith("http://school.example:8101/")

        # the server moved (another port): the set-once recordingUrl follows
        moved = {"Host": "school.example:9000"}
        read = await client.get(f"/api/v1/sessions/{sid}", headers={**people.teacher, **moved})
        rid = uploaded.json()["id"]
        assert read.json()["recordingUrl"] == (
            f"http://school.example:9000/api/v1/recordings/{rid}/download"
        )
    database = create_database(settings.resolved_database_url())
    try:
        async with database.transaction() as tx:
            stored = await tx.scalar(select(SessionRow.recording_url).where(SessionRow.id == sid))
    finally:
        await database.dispose()
    assert stored == f"/api/v1/recordings/{rid}/download"


async def test_a_configured_public_url_wins(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., object]
) -> None:
    response = await client.post(
        "/api/v1/sessions",
        json={"title": "Configured"},
        headers={**people.teacher, "Host": "elsewhere:1234"},
    )
    assert response.json()["joinUrl"].startswith("http://testserver/classroom/")
