"""The ``liveclass-bench crosscheck`` command (bench/crosscheck.py does the work).

Registered by :mod:`bench.cli`, which passes its own workload and running options (so this
module does not import the CLI back)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from bench.execute import RunOptions
from bench.results import command_line
from bench.scenario import Scenario, parse_steps
from bench.targets import parse_targets

__all__ = ["CROSSCHECK_GENERATORS", "CROSSCHECK_STEPS", "CROSSCHECK_TARGETS", "add_crosscheck"]

#: 2k and 10k deliveries/s with 500 clients, 4 s each: short, bounded steps.
CROSSCHECK_STEPS = "4x4,20x4"
CROSSCHECK_TARGETS = "liveclass,liveclass-redis,websockets,node-socketio"
CROSSCHECK_GENERATORS = "python,node"


def add_crosscheck(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    scenario_args: Callable[[argparse.ArgumentParser], None],
    run_args: Callable[[argparse.ArgumentParser], None],
    make_scenario: Callable[..., Scenario],
    run_options: Callable[[argparse.Namespace], RunOptions],
) -> None:
    """Add the ``crosscheck`` subcommand to ``sub``."""

    def handler(args: argparse.Namespace) -> int:
        from bench.crosscheck import crosscheck
        from bench.loadgens import GENERATORS

        generators = [g.strip() for g in args.generators.split(",") if g.strip()]
        if not generators or any(g not in GENERATORS for g in generators):
            print(f"--generators: one or more of {','.join(GENERATORS)}")
            return 2

        scenario = make_scenario(
            args,
            "class",
            clients=500,
            steps=parse_steps(CROSSCHECK_STEPS),
            churn=0.0,
            settle=1.0,
            drain=3.0,
        )
        targets = parse_targets(args.targets)
        if targets is None:
            return 2
        command = command_line()
        output = asyncio.run(
            crosscheck(
                targets,
                scenario,
                run_options(args),
                args.out,
                repeat=args.repeat,
                generators=generators,
                command=command,
            )
        )
        print(f"results: {output.json_path}\ntable: {output.table_path}")
        return 1 if output.document["failures"] else 0

    parser = sub.add_parser(
        "crosscheck",
        help="the class chat load from the Python and independent Node and Go load generators, "
        "side by side",
    )
    parser.add_argument(
        "--targets", default=CROSSCHECK_TARGETS, help=f"comma-separated ({CROSSCHECK_TARGETS})"
    )
    parser.add_argument(
        "--generators",
        default=CROSSCHECK_GENERATORS,
        help=f"comma-separated, each round in this order, rotated a round ({CROSSCHECK_GENERATORS};"
        " python, node, go: go builds with scripts/ensure-go-tools.sh)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds per target (the order alternates)"
    )
    scenario_args(parser)
    run_args(parser)
    parser.set_defaults(handler=handler, no_progress=True)
