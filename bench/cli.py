"""``liveclass-bench``: load tests of liveclass, and the same load against baselines.

    liveclass-bench setup                      # npm ci for bench/node, go build for bench/go
    liveclass-bench run --scenario class       # spawns liveclass (SQLite + fakeredis)
    liveclass-bench run --url http://127.0.0.1:8000 --secret-file liveclass-data/secret-key
    liveclass-bench compare --clients 500      # liveclass, liveclass-redis and the baselines
    liveclass-bench crosscheck                 # the same load from Python, Node (and Go) generators
    liveclass-bench plot bench/results/compare-*.json --out /tmp/plots
    liveclass-bench media --subscribers 50    # SFU: 1 publisher, 50 aiortc subscribers

See bench/README.md for the scenarios, the metrics and the adapter protocol of baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.crosscheck_cli import add_crosscheck
from bench.execute import RunOptions
from bench.media_overload_cli import add_media_overload
from bench.results import command_line, load_results, save, stamp
from bench.scenario import SCENARIOS, Scenario, parse_steps, preset
from bench.targets import TARGETS, TargetOptions, parse_targets, split_target

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
COMPARE_STEPS = "4x8,10x8,20x8,40x8,80x8,160x8"


def _scenario_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("workload")
    g.add_argument("--clients", type=int, help="clients per room, the host included")
    g.add_argument("--rooms", type=int, help="rooms")
    g.add_argument(
        "--steps",
        help="offered chat load: messages/s per room x seconds, e.g. 5x10,20x10",
    )
    g.add_argument("--sender-rate", type=float, help="at most this many messages/s per sender")
    g.add_argument("--text-bytes", type=int, help="chat text length (default 48)")
    g.add_argument("--churn", type=float, help="leave-and-rejoin per second")
    g.add_argument("--slow", type=int, help="slow consumers per room")
    g.add_argument("--slow-interval", type=float, help="a slow consumer reads a frame per N s")
    g.add_argument("--resume-at", type=float, help="everyone drops and resumes N s into the load")
    g.add_argument("--codec", choices=["json", "msgpack"], help="liveclass subprotocol")
    g.add_argument("--settle", type=float, help="idle seconds between joins and load")
    g.add_argument("--drain", type=float, help="at most N s for messages in flight at the end")


def _run_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("running")
    g.add_argument("--processes", type=int, help="load-generator processes (default: cores)")
    g.add_argument("--no-pin", action="store_true", help="do not pin server and clients")
    g.add_argument(
        "--warm",
        type=int,
        default=10,
        help="warm-up connections (a room of their own) before the server's RSS is read",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--out", type=Path, default=RESULTS, help=f"results folder ({RESULTS})")
    g.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="liveclass-redis")
    g.add_argument(
        "--postgres-url",
        help="PostgreSQL admin URL for liveclass-redis (the bench recreates database "
        "liveclass_bench there); default SQLite",
    )


def _scenario(args: argparse.Namespace, name: str, **defaults: object) -> Scenario:
    values = {
        "clients": args.clients,
        "rooms": args.rooms,
        "steps": parse_steps(args.steps) if args.steps else None,
        "sender_rate": args.sender_rate,
        "text_bytes": args.text_bytes,
        "churn": args.churn,
        "slow": args.slow,
        "slow_interval": args.slow_interval,
        "resume_at": args.resume_at,
        "codec": args.codec,
        "settle": args.settle,
        "drain": args.drain,
    }
    for key, value in defaults.items():
        if values.get(key) is None:
            values[key] = value
    return preset(name, **values)


def _options(args: argparse.Namespace) -> TargetOptions:
    secret = getattr(args, "secret", None)
    secret_file = getattr(args, "secret_file", None)
    if secret_file:
        secret = Path(secret_file).read_text().strip()
    return TargetOptions(
        redis_url=args.redis_url,
        postgres_url=args.postgres_url,
        url=getattr(args, "url", None),
        dialect=getattr(args, "dialect", "liveclass"),
        secret=secret,
        token_cmd=getattr(args, "token_cmd", None),
        server_pid=getattr(args, "server_pid", None),
    )


def _run_options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        target=_options(args),
        processes=args.processes,
        pin=not args.no_pin,
        progress=False if args.no_progress else None,
        warm=args.warm,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from bench.execute import execute
    from bench.plots import plot_all
    from bench.report import summary

    scenario = _scenario(args, args.scenario)
    target = "url" if args.url else args.target
    if split_target(target)[0] not in (*TARGETS, "url"):
        print(f"unknown target {target}", file=sys.stderr)
        return 2
    options = _run_options(args)
    if args.profile_server and args.stall_monitor:
        print("--profile-server and --stall-monitor exclude each other", file=sys.stderr)
        return 2
    if args.profile_server:
        options.target.profile = args.profile_server.resolve()
    if args.stall_monitor:
        options.target.stall_monitor = args.stall_monitor.resolve()
    result = asyncio.run(execute(target, scenario, options))
    stem = args.name or f"run-{scenario.name}-{result['label']}-{stamp()}"
    path = save(result, args.out / f"{stem}.json")
    print(summary(result))
    print(f"result: {path}")
    if args.stall_monitor and args.stall_monitor.exists():
        from bench.servers.stalls import summary as stall_summary

        print(f"stalls ({args.stall_monitor}):")
        print(stall_summary(json.loads(args.stall_monitor.read_text())))
    if not args.no_plots:
        plots = plot_all([result], args.out / stem)
        print(f"plots: {plots[0].parent}")
    return 1 if args.fail_on_errors and result["unexpected_errors"] else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import compare

    scenario = _scenario(
        args, args.scenario, clients=500, steps=parse_steps(COMPARE_STEPS), churn=0.0
    )
    targets = parse_targets(args.targets)
    if targets is None:
        return 2
    command = command_line()
    output = asyncio.run(
        compare(
            targets,
            scenario,
            _run_options(args),
            args.out,
            latency_at=args.latency_at,
            command=command,
        )
    )
    print(f"results: {output.json_path}\ntable: {output.table_path}")
    if output.plots:
        print(f"plots: {output.plots[0].parent}")
    return 1 if output.document["failures"] else 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from bench.plots import plot_all
    from bench.report import ratio_table

    results = load_results([Path(p) for p in args.files])
    paths = plot_all(results, args.out)
    for path in paths:
        print(path)
    if len(results) > 1:
        print(ratio_table(results, args.reference, args.latency_at))
    return 0


def _cmd_media(args: argparse.Namespace) -> int:
    from bench.media.deploy import DeployOptions
    from bench.media.report import plot_media, summary
    from bench.media.run import MediaOptions, run_media

    secret = args.secret
    if args.secret_file:
        secret = Path(args.secret_file).read_text().strip()
    if args.url and not secret:
        print("liveclass-bench media --url needs --secret or --secret-file", file=sys.stderr)
        return 2
    counts = args.subscribers
    stem = args.name or f"media-{'-'.join(map(str, counts))}x{args.workers}-{stamp()}"
    options = MediaOptions(
        subscribers=counts[0],
        more_subscribers=tuple(counts[1:]),
        targets=tuple(args.targets),
        repeat=args.repeat,
        late_joiners=args.late_joiners,
        busy_neighbour=args.busy_neighbour,
        independent_check=args.independent_check,
        workers=args.workers,
        processes=args.processes,
        duration=args.duration,
        warmup=args.warmup,
        width=args.width,
        height=args.height,
        fps=args.fps,
        video_kbps=args.video_kbps,
        pin=not args.no_pin,
        ready_timeout=args.ready_timeout,
        profile=args.profile,
        profile_dir=args.out / stem,
        deploy=DeployOptions(
            redis_url=args.redis_url,
            postgres_url=args.postgres_url,
            url=args.url,
            secret=secret,
            worker_pids=args.worker_pid or [],
            hub_pid=args.server_pid,
            worker_source=args.worker_source,
            log_dir=args.out / stem,
        ),
        command=command_line(),
    )
    result = asyncio.run(run_media(options))
    path = save(result, args.out / f"{stem}.json")
    print(summary(result))
    print(f"result: {path}")
    if not args.no_plots:
        print(f"plot: {plot_media(result, args.out / stem)}")
    everyone = all(r["join"]["receiving"] == r["subscribers"] for r in result["runs"])
    return 0 if everyone else 1


def _cmd_setup(args: argparse.Namespace) -> int:
    from bench.targets import node_setup

    if args.janus:
        from bench.media.janus import janus_setup

        janus_setup()
        print("janus installed (its system service disabled; the media bench runs its own)")
        return 0
    node_setup()
    print("bench/node: socket.io, socket.io-client and ws installed")
    from bench.loadgens import go_setup

    print(f"bench/go: the Go load generator built ({go_setup()})")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liveclass-bench", description="Load tests of liveclass, against baselines."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one scenario against one server")
    run.add_argument("--scenario", choices=SCENARIOS, default="class")
    run.add_argument(
        "--target",
        default="liveclass",
        help=f"server to spawn: {', '.join(TARGETS)}, or liveclass@DIR (from that source tree)",
    )
    run.add_argument("--url", help="test the server at this http(s) URL instead of spawning one")
    run.add_argument(
        "--dialect",
        choices=["liveclass", "plain", "socketio"],
        default="liveclass",
        help="protocol of the server at --url",
    )
    run.add_argument("--secret", help="the server's HS256 platform secret (mints tokens)")
    run.add_argument("--secret-file", help="a file holding that secret")
    run.add_argument(
        "--token-cmd",
        help="command printing a bearer token, with {sub} {name} {role} {tenant}",
    )
    run.add_argument("--server-pid", type=int, help="pid of the server at --url (CPU, RSS)")
    run.add_argument(
        "--profile-server",
        type=Path,
        help="run the spawned liveclass under cProfile (main-thread CPU, the join storm only) "
        "and write its stats to this file (read them with python -m pstats)",
    )
    run.add_argument(
        "--stall-monitor",
        type=Path,
        help="run the spawned liveclass under bench/servers/stalls.py (GC pauses and event-loop "
        "stalls on the main thread's CPU clock, the load only) and write its record to this "
        "file (python -m bench.servers.stalls --summary FILE)",
    )
    run.add_argument("--name", help="result file name (without .json)")
    run.add_argument("--no-plots", action="store_true")
    run.add_argument("--fail-on-errors", action="store_true", help="exit 1 on unexpected errors")
    _scenario_args(run)
    _run_args(run)
    run.set_defaults(handler=_cmd_run)

    cmp = sub.add_parser("compare", help="the same workload against liveclass and baselines")
    cmp.add_argument("--scenario", choices=SCENARIOS, default="class")
    cmp.add_argument("--targets", default=",".join(TARGETS), help="comma-separated")
    cmp.add_argument(
        "--latency-at", type=float, default=10_000, help="latency at this offered deliveries/s"
    )
    _scenario_args(cmp)
    _run_args(cmp)
    cmp.set_defaults(handler=_cmd_compare)

    plot = sub.add_parser("plot", help="plots (and a ratio table) from result JSON files")
    plot.add_argument("files", nargs="+")
    plot.add_argument("--out", type=Path, default=Path("."), help="folder for the PNGs")
    plot.add_argument("--reference", default="liveclass")
    plot.add_argument("--latency-at", type=float, default=10_000)
    plot.set_defaults(handler=_cmd_plot)

    media = sub.add_parser(
        "media", help="the SFU: 1 publisher, N subscribers (aiortc), packets/s per core"
    )
    media.add_argument(
        "--subscribers", type=int, nargs="+", default=[20], help="subscribers in all (one run each)"
    )
    media.add_argument(
        "--targets",
        nargs="+",
        choices=["liveclass", "janus", "liveclass-frames"],
        default=["liveclass", "janus"],
        help="SFUs to run, in turn, in each round (Janus: `liveclass-bench setup --janus`; "
        "liveclass-frames: liveclass's former frame path)",
    )
    media.add_argument("--repeat", type=int, default=1, help="rounds per subscriber count")
    media.add_argument(
        "--late-joiners", type=int, default=5, help="subscribers joining during the window"
    )
    media.add_argument(
        "--busy-neighbour",
        action="store_true",
        help="a process spinning on the SFU's core during each run (the SFU gets half of it)",
    )
    media.add_argument(
        "--workers", type=int, default=1, help="media worker processes (one room on each)"
    )
    media.add_argument("--processes", type=int, default=1, help="subscriber processes")
    media.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    media.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    media.add_argument("--video-kbps", type=int, default=1200, help="publisher's VP8 bitrate")
    media.add_argument("--width", type=int, default=640)
    media.add_argument("--height", type=int, default=480)
    media.add_argument("--fps", type=int, default=30)
    media.add_argument(
        "--ready-timeout", type=float, default=60.0, help="at most N s for first keyframes"
    )
    media.add_argument("--profile", choices=["py-spy"], help="profile the first worker")
    media.add_argument("--url", help="an existing deployment (its hub's http URL)")
    media.add_argument("--secret", help="its HS256 platform secret (mints tokens)")
    media.add_argument("--secret-file", help="a file holding that secret")
    media.add_argument(
        "--worker-pid", type=int, action="append", help="pid of a media worker (CPU), repeatable"
    )
    media.add_argument("--server-pid", type=int, help="pid of the hub at --url (CPU)")
    media.add_argument(
        "--worker-source",
        type=Path,
        help="run the spawned workers from this source tree (A/B another version of media/)",
    )
    media.add_argument(
        "--independent-check",
        action="store_true",
        help="also count the SFU's datagrams from a capture (tcpdump) and its CPU with perf "
        "stat, beside the bench's figures (scripts/ensure-capture-tools.sh installs them)",
    )
    media.add_argument("--name", help="result file name (without .json)")
    media.add_argument("--no-plots", action="store_true")
    media.add_argument("--no-pin", action="store_true", help="do not pin workers and clients")
    media.add_argument("--out", type=Path, default=RESULTS, help=f"results folder ({RESULTS})")
    media.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    media.add_argument(
        "--postgres-url", help="PostgreSQL admin URL (the bench recreates liveclass_bench)"
    )
    media.set_defaults(handler=_cmd_media)

    add_crosscheck(sub, _scenario_args, _run_args, _scenario, _run_options)
    add_media_overload(sub, RESULTS)
    setup = sub.add_parser(
        "setup",
        help="install the Node socket.io baseline (npm ci) and build the Go load generator",
    )
    setup.add_argument(
        "--janus", action="store_true", help="install Janus instead (apt-get), for `media`"
    )
    setup.set_defaults(handler=_cmd_setup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if (
        args.command == "run"
        and args.url
        and not (args.secret or args.secret_file or args.token_cmd or args.dialect != "liveclass")
    ):
        print(
            "liveclass-bench run --url needs --secret, --secret-file or --token-cmd",
            file=sys.stderr,
        )
        return 2
    try:
        code: int = args.handler(args)
    except (ValueError, RuntimeError) as exc:
        print(f"liveclass-bench: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
