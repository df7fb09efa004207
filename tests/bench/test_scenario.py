"""Workloads: step parsing, how many senders, when they send, how clients are dealt."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bench.plan import build_plan, deal, send_times
from bench.scenario import Step, parse_steps, preset
from bench.targets import REPO, split_target


def test_parse_steps() -> None:
    assert parse_steps("5x10, 20x2.5,") == (Step(5, 10), Step(20, 2.5))
    assert parse_steps("3") == (Step(3, 5),)


def test_senders_keep_under_the_per_sender_rate() -> None:
    scenario = preset("class", clients=500, steps=parse_steps("4x8,160x8"), sender_rate=1.5)
    assert scenario.senders == 107
    assert scenario.offered_deliveries(scenario.steps[1]) == 80_000
    assert preset("join", clients=5).senders == 1


def test_messages_are_evenly_spaced_and_dealt_to_senders() -> None:
    scenario = preset("class", clients=20, steps=(Step(10, 2), Step(4, 1)), sender_rate=2.5)
    assert scenario.senders == 4
    times = sorted(t for slot in range(4) for t, _ in send_times(scenario, 0, slot))
    assert len(times) == 24
    first = [t for t in times if t < 2]
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(first)}
    assert gaps == {0.1}
    per_slot = [len(list(send_times(scenario, 0, slot))) for slot in range(4)]
    assert per_slot == [6, 6, 6, 6]


def test_plan_roles_and_dealing() -> None:
    scenario = preset("slow", clients=10, rooms=2, slow=2, steps=(Step(3, 1),), sender_rate=1)
    urls = [[f"ws://x/{r}/{i}" for i in range(10)] for r in range(2)]
    specs = build_plan(scenario, urls, resumable=True)
    assert len(specs) == 20
    assert [s.host for s in specs].count(True) == 2
    assert [s.sender_slot for s in specs[:4]] == [0, 1, 2, None]
    assert [s.group for s in specs[8:10]] == ["slow", "slow"]
    parts = deal(specs, 3)
    assert sorted(s.index for part in parts for s in part) == list(range(20))
    assert len(deal(specs[:2], 8)) == 2
    with pytest.raises(ValueError, match="one URL per client"):
        build_plan(scenario, urls[:1], resumable=False)


def test_invalid_scenarios_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        preset("nope")
    with pytest.raises(ValueError, match="not be slow"):
        preset("slow", clients=4, slow=4)


def test_every_room_gets_its_full_share_of_messages() -> None:
    scenario = preset("rooms", clients=10, rooms=4, steps=(Step(4, 3),), sender_rate=1)
    for room in range(4):
        times = [t for slot in range(scenario.senders) for t, _ in send_times(scenario, room, slot)]
        assert len(times) == 12
        assert all(0 <= t < 3 for t in times)


def test_liveclass_targets_may_run_from_another_source_tree(tmp_path: Path) -> None:
    assert split_target("liveclass") == ("liveclass", REPO)
    assert split_target(f"liveclass@{tmp_path}") == ("liveclass", tmp_path.resolve())
    assert split_target(f"liveclass-redis@{tmp_path}")[0] == "liveclass-redis"
    with pytest.raises(ValueError, match="source tree"):
        split_target(f"node-socketio@{tmp_path}")
