"""A private network host for a server the bench compares against: a network namespace of its
own joined to this one by a veth pair (Debian's iproute2, as root).

Load only ever goes to loopback or to such namespaces, which the bench makes itself and removes
afterwards. Janus needs one: its ICE (libnice) never gathers loopback, so on the host it would
offer the machine's own address; inside the namespace it offers the namespace's.

:func:`private_host` yields a :class:`PrivateHost`: ``address`` is the server's side (bind and
reach the server there), ``peer_address`` this side (what local peers offer as their own
candidates), ``run_prefix`` the argv prefix that runs a program inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

__all__ = ["NamespaceUnavailable", "PrivateHost", "private_host"]


class NamespaceUnavailable(RuntimeError):
    """The namespace could not be made (not root, or no iproute2); says which command failed."""


@dataclass(frozen=True, slots=True)
class PrivateHost:
    name: str
    address: str
    peer_address: str
    #: This side's end of the veth pair (where ``tc`` shapes what goes into the namespace).
    link: str = ""

    @property
    def run_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]


async def _ip(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "ip",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {err.decode().strip()}")


@asynccontextmanager
async def private_host(label: str) -> AsyncIterator[PrivateHost]:
    """A namespace ``lc-<label>-<pid>`` linked to this one by a /30 in 10.213.0.0/16 (chosen
    from the process id, so two benches apart do not collide); removed on exit, with its
    link."""
    pid = os.getpid()
    name = f"lc-{label}-{pid}"
    subnet = (pid % 16000) * 4
    base = f"10.213.{subnet // 256}.{subnet % 256}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    peer, server = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
    outside, inside = f"lcv{pid % 100000}a", f"lcv{pid % 100000}b"
    try:
        await _ip("netns", "add", name)
    except FileNotFoundError as exc:
        raise NamespaceUnavailable("iproute2's `ip` is not installed") from exc
    try:
        await _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        await _ip("link", "set", inside, "netns", name)
        await _ip("addr", "add", f"{peer}/30", "dev", outside)
        await _ip("link", "set", outside, "up")
        await _ip("netns", "exec", name, "ip", "addr", "add", f"{server}/30", "dev", inside)
        await _ip("netns", "exec", name, "ip", "link", "set", inside, "up")
        await _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield PrivateHost(name, server, peer, outside)
    finally:
        await _ip("netns", "del", name)  # takes the veth pair with it...
        with contextlib.suppress(NamespaceUnavailable):
            await _ip("link", "del", outside)  # ...unless it never got inside
