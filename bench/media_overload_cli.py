"""The ``liveclass-bench media-overload`` command (bench/media/overload.py does the work):
a media worker on a core shared with a busy loop, given more subscribers than it carries."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.results import command_line, save, stamp

__all__ = ["add_media_overload"]


def _media_overload(args: argparse.Namespace) -> int:
    from bench.media.deploy import DeployOptions
    from bench.media.overload import OverloadOptions, run_overload, summary, verdict

    stem = args.name or f"media-overload-{args.subscribers}-nice{args.origin_nice}-{stamp()}"
    options = OverloadOptions(
        subscribers=args.subscribers,
        origin_nice=args.origin_nice,
        join_gap=args.join_gap,
        duration=args.duration,
        warmup=args.warmup,
        video_kbps=args.video_kbps,
        pin=not args.no_pin,
        deploy=DeployOptions(redis_url=args.redis_url, log_dir=args.out / stem),
        command=command_line(),
    )
    result = asyncio.run(run_overload(options))
    path = save(result, args.out / f"{stem}.json")
    print(summary(result))
    print(f"result: {path}")
    return 1 if verdict(result) else 0


def add_media_overload(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], results: Path
) -> None:
    """Add the ``media-overload`` subcommand to ``sub`` (results go to ``results``)."""
    overload = sub.add_parser(
        "media-overload",
        help="a worker on a core shared with a busy loop, given more subscribers than it "
        "carries: who it admits, who goes to the relay, frames lost on each",
    )
    overload.add_argument("--subscribers", type=int, default=40)
    overload.add_argument(
        "--origin-nice",
        type=int,
        default=10,
        help="the origin worker's niceness beside the busy loop (0: half the core)",
    )
    overload.add_argument("--join-gap", type=float, default=0.5, help="seconds between joins")
    overload.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    overload.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    overload.add_argument("--video-kbps", type=int, default=1200, help="publisher's VP8 bitrate")
    overload.add_argument("--no-pin", action="store_true", help="do not pin workers and clients")
    overload.add_argument("--name", help="result file name (without .json)")
    overload.add_argument("--out", type=Path, default=results, help=f"results folder ({results})")
    overload.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    overload.set_defaults(handler=_media_overload)
