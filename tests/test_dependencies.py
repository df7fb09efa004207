"""Dependencies a user can trust: lock files the scripts install from, a serving virtualenv
without test or lint tools, and a reason beside every exact pin."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"pytest", "ruff", "mypy", "playwright", "schemathesis", "hypothesis", "pip-tools"}


def _locked(name: str) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / name).read_text(), re.MULTILINE)
    return {package.lower().replace("_", "-"): version for package, version in pins}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_serving_lock_holds_no_test_or_lint_tool() -> None:
    assert not DEV_TOOLS & set(_locked("requirements/run.txt"))
    assert set(_locked("requirements/dev.txt")) >= DEV_TOOLS
    run_script = (ROOT / "scripts/run.sh").read_text()
    assert "bootstrap.sh run" in run_script
    assert ".venv-run/bin/liveclass" in run_script


def test_the_locks_cover_pyproject_and_agree_with_each_other() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    run, dev = _locked("requirements/run.txt"), _locked("requirements/dev.txt")
    assert {_name(r) for r in project["dependencies"]} <= set(run)
    assert {_name(r) for r in project["optional-dependencies"]["dev"]} <= set(dev)
    assert {p: v for p, v in dev.items() if p in run} == run  # one version of each package


def test_every_exact_pin_says_why() -> None:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r'\s*"[^"]+==', line):
            assert lines[i - 1].strip().startswith("#"), f"no reason above: {line.strip()}"
