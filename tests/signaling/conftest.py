"""Fixtures of the hub's tests that play a class on two in-process nodes."""

from __future__ import annotations

import httpx
import pytest

from signaling.hub import Hub
from tests.conftest import NewSession, People
from tests.signaling.harness import Client, class_of_three

#: The teacher and student2 on the first node, student on the second.
Three = tuple[Client, Client, Client]


@pytest.fixture
async def live_class(
    client: httpx.AsyncClient, people: People, new_session: NewSession, nodes: tuple[Hub, Hub]
) -> Three:
    """A live class of three on two nodes: the teacher, two students."""
    sid = (await new_session(start=True))["id"]
    return await class_of_three(client, nodes, sid, people)
