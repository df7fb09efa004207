"""Recordings: multipart upload, external links, listing, download (bearer, Range, signed
links) and the session's recordingUrl that is set once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import Services
from api.settings import Settings
from rooms.media_types import download_name
from rooms.store.tables import RecordingRow
from tests.api.helpers import error_of, own_client
from tests.conftest import FakeClock, NewSession, People

API = "/api/v1"
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"


def webm(payload: bytes = b"liveclass test recording " * 40) -> bytes:
    return WEBM_MAGIC + payload


def recordings_url(sid: str) -> str:
    return f"{API}/sessions/{sid}/recordings"


def relative(link: str) -> str:
    """A public link as a path the test client requests (it serves http://testserver)."""
    assert link.startswith("http://testserver/"), link
    return link.removeprefix("http://testserver")


async def upload(
    client: httpx.AsyncClient,
    sid: str,
    who: dict[str, str],
    data: bytes,
    *,
    filename: str = "class.webm",
    fields: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        recordings_url(sid),
        files={"file": (filename, data, "application/octet-stream")},
        data=fields or {},
        headers=who,
    )


async def listed(client: httpx.AsyncClient, sid: str, who: dict[str, str]) -> dict[str, Any]:
    response = await client.get(recordings_url(sid), headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def session_of(client: httpx.AsyncClient, sid: str, who: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{API}/sessions/{sid}", headers=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored_files(settings: Settings) -> list[Path]:
    root = settings.recordings_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- uploads ---------------------------------------------------------------------------------


async def test_an_upload_named_evil_html_is_served_as_what_it_is(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    services: Services,
) -> None:
    """Stored under a generated name, listed and downloaded as an attachment named for its
    real type: never as an HTML page, whatever the uploader called it (rows stored before
    the name was checked included)."""
    session = await new_session(start=True)
    data = webm(b"<html><script>alert(document.cookie)</script></html>" * 20)
    response = await upload(client, session["id"], people.teacher, data, filename="../evil.html")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["filename"] == "evil.webm"
    assert body["contentType"] == "video/webm"
    (stored,) = stored_files(settings)
    assert stored.name == f"{body['id']}.webm"
    async with services.database.transaction() as tx:  # a row from before the check
        row = await tx.get(RecordingRow, body["id"])
        assert row is not None
        row.filename = "evil.html"
    for rid_url in (relative(body["accessLink"]["url"]), relative(body["downloadLink"])):
        download = await client.get(rid_url, headers=people.teacher)
        assert download.status_code == 200
        assert download.headers["content-type"] == "video/webm"
        assert download.headers["content-disposition"] == 'attachment; filename="evil.webm"'
        assert download.headers["x-content-type-options"] == "nosniff"
    assert (await listed(client, session["id"], people.teacher))["recordings"][0][
        "filename"
    ] == "evil.webm"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("evil.html", "video/webm", "evil.webm"),
        ("..\\..\\x.svg", "audio/ogg", "x.ogg"),
        ("class.tar.mp4", "video/mp4", "class.tar.mp4"),
        (".html", "audio/wav", "html.wav"),
        ('a"; filename=b.html', "audio/mpeg", "a filename=b.mp3"),
        ("\ud800.webm", "video/webm", "\ufffd.webm"),
        (None, "video/quicktime", "recording.mov"),
        ("x.html", "text/html", "x.bin"),
    ],
)
def test_download_names_carry_the_real_type(
    name: str | None, content_type: str, expected: str
) -> None:
    assert download_name(name, content_type) == expected


async def test_upload_to_a_live_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession, settings: Settings
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    data = webm()

    response = await upload(client, sid, people.teacher, data)

    assert response.status_code == 201, response.text
    body = response.json()
    rid = body["id"]
    assert body["sessionId"] == sid
    assert body["source"] == "upload"
    assert body["status"] == "ready"
    assert body["contentType"] == "video/webm"
    assert body["filename"] == "class.webm"
    assert body["size"] == len(data)
    assert body["duration"] is None
    download = f"http://testserver{API}/recordings/{rid}/download"
    assert body["url"] == body["downloadLink"] == download
    access = body["accessLink"]
    assert access["url"].startswith(f"http://testserver{API}/recordings/{rid}/file?expires=")
    assert "signature=" in access["url"]
    assert access["expiresAt"]
    assert [p.read_bytes() for p in stored_files(settings)] == [data]


async def test_first_recording_sets_the_session_recording_url_for_good(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    assert session["recordingUrl"] is None

    first = await upload(client, sid, people.teacher, webm(b"first"))
    await client.post(f"{API}/sessions/{sid}/end", headers=people.teacher)
    second = await upload(client, sid, people.admin, webm(b"second"), filename="part2.webm")

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert first.json()["id"] != second.json()["id"]
    after = await session_of(client, sid, people.student)
    assert after["recordingUrl"] == first.json()["downloadLink"]
    assert after["recordingAvailable"] is True

    body = await listed(client, sid, people.student)
    assert body["sessionId"] == sid
    assert body["recordingUrl"] == first.json()["downloadLink"]
    by_id = {r["id"]: r for r in body["recordings"]}
    assert set(by_id) == {first.json()["id"], second.json()["id"]}
    assert by_id[second.json()["id"]]["filename"] == "part2.webm"
    assert by_id[second.json()["id"]]["size"] == len(webm(b"second"))


async def test_get_and_download_with_a_bearer_token(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    data = webm(bytes(range(256)) * 8)
    created = (await upload(client, session["id"], people.teacher, data)).json()
    rid = created["id"]

    got = await client.get(f"{API}/recordings/{rid}", headers=people.student)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == rid
    assert got.json()["size"] == len(data)
    assert got.json()["downloadLink"] == created["downloadLink"]

    downloaded = await client.get(relative(created["downloadLink"]), headers=people.student)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == data
    assert downloaded.headers["content-type"].startswith("video/webm")

    anonymous = await client.get(relative(created["downloadLink"]))
    assert anonymous.status_code == 401
    assert error_of(anonymous)["code"] == "missing_token"


async def test_download_honours_range_requests(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    data = webm(b"0123456789")
    rid = (await upload(client, session["id"], people.teacher, data)).json()["id"]

    first = await client.get(
        f"{API}/recordings/{rid}/download", headers={**people.student, "Range": "bytes=0-3"}
    )
    middle = await client.get(
        f"{API}/recordings/{rid}/download", headers={**people.student, "Range": "bytes=4-7"}
    )

    assert first.status_code == 206, first.text
    assert first.content == WEBM_MAGIC
    assert first.headers["content-range"] == f"bytes 0-3/{len(data)}"
    assert middle.status_code == 206
    assert middle.content == b"0123"


async def test_the_access_link_works_without_a_token_until_it_expires(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    clock: FakeClock,
) -> None:
    session = await new_session(start=True)
    data = webm()
    created = (await upload(client, session["id"], people.teacher, data)).json()
    link = relative(created["accessLink"]["url"])

    fetched = await client.get(link)
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == data

    clock.advance(settings.access_link_ttl_seconds - 60)
    assert (await client.get(link)).status_code == 200

    clock.advance(61)
    expired = await client.get(link)
    assert expired.status_code == 403, expired.text
    assert error_of(expired)["code"] == "link_expired"

    # A fresh read of the recording signs a fresh link.
    fresh = (await client.get(f"{API}/recordings/{created['id']}", headers=people.teacher)).json()
    assert (await client.get(relative(fresh["accessLink"]["url"]))).content == data


async def test_an_altered_access_link_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    one = (await upload(client, session["id"], people.teacher, webm(b"one"))).json()
    two = (await upload(client, session["id"], people.teacher, webm(b"two"))).json()
    link = relative(one["accessLink"]["url"])
    path, _, query = link.partition("?")
    signature = query.rsplit("signature=", 1)[1]

    forged_signature = (
        link[: -len(signature)] + ("A" if signature[0] != "A" else "B") + signature[1:]
    )
    other_recording = path.replace(one["id"], two["id"]) + "?" + query
    expires = int(query.split("expires=")[1].split("&")[0])
    later = link.replace(f"expires={expires}", f"expires={expires + 3600}")
    unsigned = path

    for altered in (forged_signature, other_recording, later, unsigned):
        response = await client.get(altered)
        assert response.status_code == 403, (altered, response.text)
        assert error_of(response)["code"] == "invalid_signature"
    assert (await client.get(link)).status_code == 200


async def test_duration_is_stored(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    response = await upload(
        client, session["id"], people.teacher, webm(), fields={"durationSeconds": "754.5"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["duration"] == 754.5
    got = await client.get(f"{API}/recordings/{response.json()['id']}", headers=people.teacher)
    assert got.json()["duration"] == 754.5


@pytest.mark.parametrize("duration", ["soon", "-1"])
async def test_a_bad_duration_is_refused(
    client: httpx.AsyncClient,
    people: People,
    new_session: NewSession,
    settings: Settings,
    duration: str,
) -> None:
    session = await new_session(start=True)

    response = await upload(
        client, session["id"], people.teacher, webm(), fields={"durationSeconds": duration}
    )

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"
    assert stored_files(settings) == []


# -- refused uploads -------------------------------------------------------------------------


async def test_a_file_that_is_not_a_recording_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, settings: Settings
) -> None:
    session = await new_session(start=True)

    response = await upload(
        client, session["id"], people.teacher, b"just some notes\n" * 10, filename="notes.webm"
    )

    assert response.status_code == 415, response.text
    assert error_of(response)["code"] == "unsupported_media_type"
    assert (await listed(client, session["id"], people.teacher))["recordings"] == []
    assert stored_files(settings) == []
    assert (await session_of(client, session["id"], people.teacher))["recordingUrl"] is None


async def test_a_form_without_a_file_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    boundary = "liveclass-boundary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="durationSeconds"\r\n\r\n'
        "12\r\n"
        f"--{boundary}--\r\n"
    ).encode()

    response = await client.post(
        recordings_url(session["id"]),
        content=body,
        headers={**people.teacher, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "missing_file"
    assert (await listed(client, session["id"], people.teacher))["recordings"] == []


async def test_a_body_that_is_neither_a_form_nor_json_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    for content_type in ("text/plain", "application/octet-stream"):
        response = await client.post(
            recordings_url(session["id"]),
            content=webm(),
            headers={**people.teacher, "Content-Type": content_type},
        )
        assert response.status_code == 415, response.text
        assert error_of(response)["code"] == "unsupported_media_type"
    assert (await listed(client, session["id"], people.teacher))["recordings"] == []


async def test_an_upload_over_the_size_limit_is_refused_and_not_stored(
    settings_factory: Callable[..., Settings], clock: FakeClock, people: People
) -> None:
    settings = settings_factory(recording_max_bytes=2048)
    async with own_client(settings, clock) as client:
        created = await client.post(
            f"{API}/sessions", json={"title": "Tiny limit"}, headers=people.teacher
        )
        sid = created.json()["id"]
        await client.post(f"{API}/sessions/{sid}/start", headers=people.teacher)

        too_big = await upload(client, sid, people.teacher, webm(b"\x00" * 10 * 1024))

        assert too_big.status_code == 413, too_big.text
        assert error_of(too_big)["code"] == "payload_too_large"
        assert (await listed(client, sid, people.teacher))["recordings"] == []
        assert stored_files(settings) == []
        assert (await session_of(client, sid, people.teacher))["recordingUrl"] is None

        # A file within the limit is still accepted.
        small = await upload(client, sid, people.teacher, webm(b"\x00" * 1000))
        assert small.status_code == 201, small.text
        assert small.json()["size"] == 1004


async def test_students_may_not_add_recordings(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    uploaded = await upload(client, session["id"], people.student, webm())
    linked = await client.post(
        recordings_url(session["id"]),
        json={"recordingUrl": "https://cdn.example.com/x.mp4"},
        headers=people.student,
    )

    for response in (uploaded, linked):
        assert response.status_code == 403, response.text
        assert error_of(response)["code"] == "not_session_owner"
    assert (await listed(client, session["id"], people.student))["recordings"] == []


async def test_a_scheduled_session_has_no_recordings_yet(
    client: httpx.AsyncClient, people: People, new_session: NewSession, settings: Settings
) -> None:
    session = await new_session()

    uploaded = await upload(client, session["id"], people.teacher, webm())
    linked = await client.post(
        recordings_url(session["id"]),
        json={"recordingUrl": "https://cdn.example.com/x.mp4"},
        headers=people.teacher,
    )

    for response in (uploaded, linked):
        assert response.status_code == 409, response.text
        assert error_of(response)["details"] == {"status": "scheduled"}
    assert stored_files(settings) == []
    assert (await session_of(client, session["id"], people.teacher))["recordingUrl"] is None


async def test_another_tenant_sees_no_recordings(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    rid = (await upload(client, sid, people.teacher, webm())).json()["id"]

    for who in (people.outsider, people.outsider_admin):
        listing = await client.get(recordings_url(sid), headers=who)
        assert listing.status_code == 404, listing.text
        assert error_of(listing)["code"] == "session_not_found"
        got = await client.get(f"{API}/recordings/{rid}", headers=who)
        assert got.status_code == 404, got.text
        assert error_of(got)["code"] == "recording_not_found"
        downloaded = await client.get(f"{API}/recordings/{rid}/download", headers=who)
        assert downloaded.status_code == 404
        added = await upload(client, sid, who, webm())
        assert added.status_code == 404
    assert len((await listed(client, sid, people.teacher))["recordings"]) == 1


async def test_a_gated_session_recordings_are_for_the_enrolled(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True, requiresEnrollment=True)
    sid = session["id"]
    rid = (await upload(client, sid, people.teacher, webm())).json()["id"]

    listing = await client.get(recordings_url(sid), headers=people.student)
    got = await client.get(f"{API}/recordings/{rid}", headers=people.student)
    for response in (listing, got):
        assert response.status_code == 403, response.text
        assert error_of(response)["code"] == "not_enrolled"

    await client.post(f"{API}/sessions/{sid}/enroll", headers=people.student)
    assert len((await listed(client, sid, people.student))["recordings"]) == 1


# -- links to recordings stored elsewhere ----------------------------------------------------


async def test_register_a_link_once_on_an_ended_session(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    await client.post(f"{API}/sessions/{sid}/end", headers=people.teacher)

    response = await client.post(
        recordings_url(sid), json={"recordingUrl": "s3://bucket/x.mp4"}, headers=people.teacher
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "link"
    assert body["status"] == "ready"
    assert body["sessionId"] == sid
    assert body["url"] == body["downloadLink"] == "s3://bucket/x.mp4"
    assert body["accessLink"] == {"url": "s3://bucket/x.mp4", "expiresAt": None}
    assert (await session_of(client, sid, people.student))["recordingUrl"] == "s3://bucket/x.mp4"

    again = await client.post(
        recordings_url(sid),
        json={"recordingUrl": "https://cdn.example.com/other.mp4"},
        headers=people.admin,
    )
    assert again.status_code == 409, again.text
    error = error_of(again)
    assert error["code"] == "recording_url_set"
    assert error["details"] == {"recordingUrl": "s3://bucket/x.mp4"}
    assert (await session_of(client, sid, people.student))["recordingUrl"] == "s3://bucket/x.mp4"
    body_list = await listed(client, sid, people.student)
    assert [r["id"] for r in body_list["recordings"]] == [body["id"]]


@pytest.mark.parametrize(
    "payload",
    [
        {"recordingUrl": "ftp://example.com/x.mp4"},
        {"recordingUrl": "javascript:alert(1)"},
        {"recordingUrl": 42},
        {},
        {"recordingUrl": "https://cdn.example.com/x.mp4", "extra": True},
    ],
)
async def test_an_invalid_link_is_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, payload: dict[str, object]
) -> None:
    session = await new_session(start=True)

    response = await client.post(
        recordings_url(session["id"]), json=payload, headers=people.teacher
    )

    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_failed"
    assert (await session_of(client, session["id"], people.teacher))["recordingUrl"] is None


async def test_a_link_body_that_is_not_json_is_a_bad_request(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)

    response = await client.post(
        recordings_url(session["id"]),
        content=b'{"recordingUrl": ',
        headers={**people.teacher, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "invalid_json"


async def test_no_link_once_an_upload_set_the_recording_url(
    client: httpx.AsyncClient, people: People, new_session: NewSession
) -> None:
    session = await new_session(start=True)
    sid = session["id"]
    uploaded = (await upload(client, sid, people.teacher, webm())).json()

    response = await client.post(
        recordings_url(sid),
        json={"recordingUrl": "https://cdn.example.com/x.mp4"},
        headers=people.teacher,
    )

    assert response.status_code == 409, response.text
    assert error_of(response)["code"] == "recording_url_set"
    assert (await session_of(client, sid, people.teacher))["recordingUrl"] == uploaded[
        "downloadLink"
    ]
    assert [r["id"] for r in (await listed(client, sid, people.teacher))["recordings"]] == [
        uploaded["id"]
    ]
