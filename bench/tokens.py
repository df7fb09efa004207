"""Platform bearer tokens for the simulated users.

Two ways, as a load tester has them:

- ``--secret``: the server's HS256 platform secret (``LIVECLASS_JWT_SECRET``, or in development
  the generated ``secret-key`` in its data directory); tokens are minted here with the claims
  liveclass expects (``sub``, ``name``, ``role``, ``tenant``, ``iat``, ``exp``);
- ``--token-cmd``: a command printing one token, with ``{sub}``, ``{name}``, ``{role}`` and
  ``{tenant}`` filled in, e.g. ``liveclass token --sub {sub} --name {name} --role {role}
  --tenant {tenant}`` (slower: one process per user).
"""

from __future__ import annotations

import asyncio
import shlex
import time

import jwt

__all__ = ["Minter"]


class Minter:
    def __init__(
        self,
        *,
        secret: str | None = None,
        token_cmd: str | None = None,
        ttl_seconds: int = 3 * 3600,
        parallel: int = 4,
    ) -> None:
        if (secret is None) == (token_cmd is None):
            raise ValueError("give exactly one of a secret and a token command")
        self._secret = secret
        self._cmd = token_cmd
        self._ttl = ttl_seconds
        self._gate = asyncio.Semaphore(parallel)

    async def bearer(self, *, sub: str, name: str, role: str, tenant: str) -> str:
        if self._secret is not None:
            return self.mint(sub=sub, name=name, role=role, tenant=tenant)
        assert self._cmd is not None
        argv = [
            part.format(sub=sub, name=name, role=role, tenant=tenant)
            for part in shlex.split(self._cmd)
        ]
        async with self._gate:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await asyncio.wait_for(process.communicate(), 60)
        if process.returncode != 0:
            raise RuntimeError(
                f"token command failed ({process.returncode}): {err.decode(errors='replace')}"
            )
        token = out.decode().strip().splitlines()[-1:] or [""]
        if not token[0]:
            raise RuntimeError("the token command printed nothing")
        return token[0]

    def mint(self, *, sub: str, name: str, role: str, tenant: str) -> str:
        assert self._secret is not None
        now = int(time.time())
        claims = {
            "sub": sub,
            "name": name,
            "role": role,
            "tenant": tenant,
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")
