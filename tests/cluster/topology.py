"""The production topology (scripts/topology.sh) as a test fixture's handle.

:func:`bring_up` runs ``scripts/topology.sh up`` with this suite's settings (a run dir, ports and
a PostgreSQL database of its own per namespace and xdist worker, so concurrent suites never
share one) and reads back the state file; :meth:`Topology.down` tears it all down. A missing
tool is installed by the script; any failure is a test failure, never a skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests import services as svc
from tests.conftest import JWT_SECRET, SECRET_KEY

__all__ = ["NODES", "Topology", "bring_up"]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "topology.sh"
NODES = 3
#: Presence settings short enough for "a killed node's participants are gone within 15 s".
NODE_ENV = {
    "LIVECLASS_JWT_SECRET": JWT_SECRET,
    "LIVECLASS_SECRET_KEY": SECRET_KEY,
    "LIVECLASS_PRESENCE_TTL_SECONDS": "8",
    "LIVECLASS_HEARTBEAT_INTERVAL_SECONDS": "2",
    "LIVECLASS_SWEEP_INTERVAL_SECONDS": "1",
    "LIVECLASS_RESUME_GRACE_SECONDS": "30",
    "LIVECLASS_MEDIA_HOST_ADDRESSES": json.dumps(["127.0.0.1"]),
    # No test here kills a media worker: the default TTL, so that a worker starved for a few
    # seconds on a loaded machine is not taken for dead and its room moved mid-test.
    "LIVECLASS_MEDIA_HEARTBEAT_SECONDS": "1",
    "LIVECLASS_LOG_LEVEL": "WARNING",
}


def _base_port() -> int:
    """A port block per namespace and worker: [B, B+13] and the Redis cluster bus ports
    B+10011..13, all below Linux's ephemeral range (32768+), where a client socket could hold
    one."""
    digest = int(hashlib.sha256(svc.NAMESPACE.encode()).hexdigest(), 16)
    return 10000 + (digest % 60) * 200 + (svc.worker_index() % 2) * 100


@dataclass
class Topology:
    run_dir: Path
    env: dict[str, str]
    state: dict[str, str]

    @property
    def lb(self) -> str:
        return self.state["LB_URL"]

    @property
    def lb_ws(self) -> str:
        return self.lb.replace("http://", "ws://") + "/ws"

    def node_port(self, n: int) -> int:
        return int(self.state[f"NODE_{n}"].split()[0])

    def node_http(self, n: int) -> str:
        return f"http://127.0.0.1:{self.node_port(n)}"

    def node_ws(self, n: int) -> str:
        return f"ws://127.0.0.1:{self.node_port(n)}/ws"

    def node_pid(self, n: int) -> int | None:
        pid = self.state[f"NODE_{n}"].split()[1]
        return None if pid == "-" else int(pid)

    @property
    def redis_url(self) -> str:
        return f"redis://{self.state['REDIS_NODES'].split()[0]}/0"

    def run(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [str(SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"topology.sh {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout}\n{done.stderr}"
            )
        self.state = _read_state(self.run_dir)
        return done.stdout + done.stderr

    def kill_node(self, n: int) -> None:
        """kill -9: no drain, no goodbye."""
        pid = self.node_pid(n)
        assert pid is not None, f"node-{n} is not running"
        os.kill(pid, signal.SIGKILL)

    def stop_node(self, n: int) -> None:
        """SIGTERM: the node drains (closes its listener, tells its clients 1001)."""
        self.run("stop-node", str(n))

    def start_node(self, n: int) -> None:
        self.run("start-node", str(n))

    def ensure_nodes(self) -> None:
        """Every node running again (after a test killed or drained one)."""
        for n in range(1, NODES + 1):
            pid = self.node_pid(n)
            alive = pid is not None and _alive(pid)
            if not alive:
                self.start_node(n)

    def log_of(self, name: str) -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def down(self) -> None:
        self.run("down", timeout=120)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of the script's shell may linger as a zombie until reaped by init.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"


def _read_state(run_dir: Path) -> dict[str, str]:
    path = run_dir / "state.env"
    if not path.exists():
        return {}
    state = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        state[key] = value.strip()
    return state


def bring_up() -> Topology:
    worker = svc.worker_index()
    run_dir = Path(tempfile.gettempdir()) / f"liveclass-topology-{svc.NAMESPACE}-{worker}"
    base = svc.PG_ADMIN_URL.rpartition("/")[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LIVECLASS_")},
        **NODE_ENV,
        "LIVECLASS_TOPOLOGY_DIR": str(run_dir),
        "LIVECLASS_TOPOLOGY_PORT": str(_base_port()),
        "LIVECLASS_TOPOLOGY_DB": f"liveclass_topology_{svc.NAMESPACE}_{worker}",
        "LIVECLASS_TOPOLOGY_PG": base,
    }
    topology = Topology(run_dir, env, {})
    topology.run("up", timeout=600)
    return topology
