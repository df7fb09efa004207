"""How long Redis itself spends in each Lua script during a crosscheck round: read Redis's
slow log (every command over 50 µs) after a run, per script (by SHA1, named where it is one of
liveclass's). The threshold keeps the log from recording the scripts' own inner commands,
which would slow them. From the repository's root:

    redis-cli config set slowlog-log-slower-than 50; redis-cli config set slowlog-max-len 100000
    redis-cli slowlog reset
    .venv/bin/liveclass-bench crosscheck --generators go --targets liveclass-redis --steps 20x20 \\
        --repeat 1 --redis-url redis://127.0.0.1:6379/12 \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test --out /tmp/x
    .venv/bin/python bench/results/20261208-s18-commit-delay/redis_script_time.py
    redis-cli config set slowlog-log-slower-than 10000; redis-cli config set slowlog-max-len 128
"""

import hashlib

import redis

from rooms.chat_admission import _ADMIT_AND_APPEND
from rooms.presence.presence import _SOURCES

NAMES = {hashlib.sha1(_ADMIT_AND_APPEND.encode()).hexdigest(): "chat admit_and_append"}
NAMES |= {hashlib.sha1(s.encode()).hexdigest(): f"presence {n}" for n, s in _SOURCES.items()}


def main() -> None:
    log = redis.Redis().slowlog_get(100000)
    by_script: dict[str, list[int]] = {}
    for entry in log:
        words = entry["command"].split()
        if words and words[0] == b"EVALSHA":
            sha = words[1].decode()
            by_script.setdefault(NAMES.get(sha, sha[:8]), []).append(entry["duration"])
    for name, took in sorted(by_script.items(), key=lambda item: -len(item[1])):
        took.sort()
        p50, p90 = took[len(took) // 2], took[int(len(took) * 0.9)]
        print(f"{name:24} {len(took):5} over 50 µs: p50 {p50} µs, p90 {p90}, max {took[-1]}")


if __name__ == "__main__":
    main()
