"""Private questions (issue 17) on two nodes, over WebSocket and REST: only the hosts and
the asker see a question and its answer; kept with the session and given again on resume
to those allowed to see them; bad input is refused with the documented errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from rooms.questions import Question, QuestionStore
from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import Client, connect, fast_chat, join, reply, room_token

pytestmark = fast_chat


def about(text: str, status: str = "open") -> Callable[[dict[str, Any]], bool]:
    return lambda m: (
        m["type"] == "question"
        and m["question"]["text"] == text
        and m["question"]["status"] == status
    )


async def no_questions_before_marker(client: Client, marker: str) -> None:
    """Everything ``client`` got up to the teacher's chat ``marker`` holds no question."""
    seen = []
    while True:
        message = await client.next()
        seen.append(message)
        if message["type"] == "chat" and message["text"] == marker:
            break
    assert [m for m in seen if m["type"] in ("question", "questions")] == []


async def test_only_the_hosts_and_the_asker_see_a_question(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    # Nobody asked yet: no (empty) snapshot after the welcome.
    await teacher.send({"type": "chat", "text": "first", "rid": "f"})
    await no_questions_before_marker(teacher, "first")
    sam = await join(client, b, sid, people.student)
    sue = await join(client, a, sid, people.student2)

    await sam.send({"type": "question-ask", "text": "  Why is the sky blue?  ", "rid": "q"})
    ack = await reply(sam, "q")
    assert ack["type"] == "ack"
    asked = await teacher.until(about("Why is the sky blue?"))
    assert asked["question"]["id"] == ack["id"]
    assert asked["question"]["from"] == {"userId": "student-1", "name": "Sam Student"}
    await sam.until(about("Why is the sky blue?"))

    await teacher.send(
        {"type": "question-answer", "id": ack["id"], "answer": "Rayleigh scattering", "rid": "a"}
    )
    assert (await reply(teacher, "a"))["status"] == "answered"
    answered = await sam.until(about("Why is the sky blue?", "answered"))
    assert answered["question"]["answer"] == "Rayleigh scattering"
    assert answered["question"]["by"] == "Tina Teacher"
    await teacher.until(about("Why is the sky blue?", "answered"))

    await sue.send({"type": "question-ask", "text": "Can I leave early?", "rid": "q2"})
    sue_q = (await reply(sue, "q2"))["id"]
    await teacher.send({"type": "question-dismiss", "id": sue_q, "rid": "d"})
    assert (await reply(teacher, "d"))["status"] == "dismissed"
    await sue.until(about("Can I leave early?", "dismissed"))
    await teacher.send({"type": "chat", "text": "marker", "rid": "m"})
    # Sam never hears of Sue's question, nor Sue of Sam's.
    await no_questions_before_marker(sam, "marker")
    sue_saw = [m["question"]["text"] for m in sue.drain_now() if m["type"] == "question"]
    assert "Why is the sky blue?" not in sue_saw

    # A resume gets one's own questions again (the host: all of them), nobody else's.
    await sam.drop()
    token = await room_token(client, sid, people.student)
    resume = sam.welcome["resume"]
    resumed, admitted = await connect(a, token, resume=resume, last_seq=0)
    assert admitted
    assert (await resumed.next("welcome"))["resumed"] is True
    mine = (await resumed.next("questions"))["questions"]
    assert [(q["text"], q["status"]) for q in mine] == [("Why is the sky blue?", "answered")]
    host_again = await join(client, b, sid, people.teacher)
    every = (await host_again.next("questions"))["questions"]
    assert [q["status"] for q in every] == ["answered", "dismissed"]


async def test_bad_question_requests_are_refused(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, b = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    sam = await join(client, b, sid, people.student)
    cases: list[tuple[Client, dict[str, Any], str]] = [
        (sam, {"type": "question-ask", "text": "   "}, "invalid_question"),
        (sam, {"type": "question-ask", "text": "x" * 1001}, "invalid_question"),
        (sam, {"type": "question-ask", "text": "x" * 5000}, "invalid_message"),
        (sam, {"type": "question-ask"}, "invalid_message"),
        (teacher, {"type": "question-ask", "text": "me?"}, "forbidden"),
        (sam, {"type": "question-dismiss", "id": "x"}, "forbidden"),
        (teacher, {"type": "question-dismiss", "id": "nope"}, "question_not_found"),
        (teacher, {"type": "question-answer", "id": 5}, "invalid_message"),
    ]
    for n, (who, message, code) in enumerate(cases):
        await who.send({**message, "rid": f"r{n}"})
        assert (await reply(who, f"r{n}"))["code"] == code, message
    await sam.send({"type": "question-ask", "text": "ok?", "rid": "ok"})
    qid = (await reply(sam, "ok"))["id"]
    await teacher.send({"type": "question-dismiss", "id": qid, "rid": "d1"})
    await reply(teacher, "d1")
    await teacher.send({"type": "question-answer", "id": qid, "rid": "d2"})
    assert (await reply(teacher, "d2"))["code"] == "question_closed"
    # One a second, a burst of five.
    codes = []
    for n in range(8):
        await sam.send({"type": "question-ask", "text": f"q{n}", "rid": f"b{n}"})
        codes.append((await reply(sam, f"b{n}")).get("code"))
    assert "rate_limited" in codes


async def test_questions_over_rest(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    a, _ = nodes
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    url = f"/api/v1/sessions/{sid}/questions"
    asked = await client.post(url, json={"text": "Is there homework?"}, headers=people.student)
    assert asked.status_code == 201, asked.text
    question = asked.json()
    assert question["status"] == "open"
    assert question["userName"] == "Sam Student"
    await teacher.until(about("Is there homework?"))
    await client.post(url, json={"text": "Mine"}, headers=people.student2)
    assert [
        q["text"] for q in (await client.get(url, headers=people.student)).json()["questions"]
    ] == ["Is there homework?"]
    assert len((await client.get(url, headers=people.teacher)).json()["questions"]) == 2

    for body, status in (({}, 422), ({"text": ""}, 422), ({"text": 3}, 422), ({"x": 1}, 422)):
        refused = await client.post(url, json=body, headers=people.student)
        assert refused.status_code == status, body
        assert refused.json()["error"]["code"]
    assert (await client.post(url, json={"text": "hi"}, headers=people.teacher)).status_code == 403
    qid = question["id"]
    student = await client.post(f"{url}/{qid}/answer", headers=people.student)
    assert student.status_code == 403
    missing = await client.post(f"{url}/not-a-question/dismiss", headers=people.teacher)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "question_not_found"
    done = await client.post(
        f"{url}/{qid}/answer", json={"answer": "Page 12"}, headers=people.teacher
    )
    assert done.json()["answer"] == "Page 12"
    assert done.json()["answeredBy"] == "Tina Teacher"
    await teacher.until(about("Is there homework?", "answered"))
    again = await client.post(f"{url}/{qid}/dismiss", headers=people.teacher)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "question_closed"
    await client.post(f"/api/v1/sessions/{sid}/end", headers=people.teacher)
    late = await client.post(url, json={"text": "after?"}, headers=people.student)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "not_live"


class CountingStore(QuestionStore):
    """The store, noting each read a join's snapshot makes."""

    def __init__(self, inner: QuestionStore) -> None:
        super().__init__(inner._db)
        self.reads: list[tuple[str, str | None]] = []

    async def askers(self, session_id: str) -> set[str]:
        self.reads.append(("askers", None))
        return await super().askers(session_id)

    async def list(self, session_id: str, user_id: str | None = None) -> list[Question]:
        self.reads.append(("list", user_id))
        return await super().list(session_id, user_id)


async def test_a_join_reads_questions_only_when_there_are_some_for_it(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> None:
    """Who asked is read once per room and node (then kept up from the bus): a join of a
    student who never asked, or of a host when nobody asked, reads nothing."""
    a, b = nodes
    store = b.questions.store = CountingStore(b.questions.store)
    sid = (await new_session(start=True))["id"]
    teacher = await join(client, a, sid, people.teacher)
    url = f"/api/v1/sessions/{sid}/questions"
    asked = await client.post(url, json={"text": "Asked early"}, headers=people.student)
    assert asked.status_code == 201, asked.text
    await teacher.until(about("Asked early"))

    # Node B opens the room: one read of who asked, then Sam's own questions.
    sam = await join(client, b, sid, people.student)
    assert [q["text"] for q in (await sam.next("questions"))["questions"]] == ["Asked early"]
    sue = await join(client, b, sid, people.student2)
    await teacher.send({"type": "chat", "text": "m1", "rid": "m1"})
    await no_questions_before_marker(sue, "m1")
    assert store.reads == [("askers", None), ("list", "student-1")]

    # Sue asks on node A; node B learns it from the bus, not from another read.
    await client.post(url, json={"text": "Sue's"}, headers=people.student2)
    await sue.until(about("Sue's"))
    await sue.drop()
    sue_again = await join(client, b, sid, people.student2)
    assert [q["text"] for q in (await sue_again.next("questions"))["questions"]] == ["Sue's"]
    assert store.reads[2:] == [("list", "student-2")]
