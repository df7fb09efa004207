"""The crosscheck's figures side by side: one row per target, round and load step (and one per
target and round for the join storm and loss), each figure from every generator that ran, in
the order of ``generators``, and the ratios of the pairs in :data:`PAIRS` (Node ÷ Python,
Go ÷ Node, Go ÷ Python) where both ran. ``agree`` says per pair whether deliveries/s, p50 and
p99 are within :data:`AGREE` of each other (either way), the criterion of issue 18's
acceptance 4."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["AGREE", "PAIRS", "comparison_rows", "pairs_of", "ratio", "tables"]

#: Two measurements agree when neither is more than this multiple of the other.
AGREE = 1.5
#: (numerator, denominator) generator pairs, reported when both are in a run.
PAIRS = (("node", "python"), ("go", "node"), ("go", "python"))
#: The step figures that decide agreement.
COMPARED = ("deliveries_per_s", "p50_ms", "p99_ms")


def ratio(a: float | None, b: float | None) -> float | None:
    """``a`` ÷ ``b``, or None when either is missing or ``b`` is 0."""
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def pairs_of(generators: Sequence[str]) -> list[str]:
    """The names ("node/python", ...) of the :data:`PAIRS` whose generators both ran."""
    return [f"{a}/{b}" for a, b in PAIRS if a in generators and b in generators]


def _agrees(ratios: dict[str, float | None]) -> bool | None:
    values = list(ratios.values())
    if any(r is None for r in values):
        return None
    return all(r is not None and 1 / AGREE <= r <= AGREE for r in values)


def _python_loss(result: dict[str, Any]) -> int:
    """Deliveries the Python generator's clients missed: messages sent x joined - received."""
    sent = sum(int(s["sent"]) for s in result["steps"])
    return max(0, sent * int(result["join"]["ok"]) - int(result["deliveries"]))


def _sent(generator: str, result: dict[str, Any]) -> int | None:
    if not result:
        return None
    if generator == "python":
        return sum(int(s["sent"]) for s in result["steps"])
    return result.get("sent")


def _lost(generator: str, result: dict[str, Any]) -> int | None:
    if not result:
        return None
    return _python_loss(result) if generator == "python" else result.get("lost")


def _errors(generator: str, result: dict[str, Any]) -> Any:
    if not result or generator == "python":
        return result.get("errors") if result else None
    return {**result.get("errors", {}), **result.get("closes", {})}


def _ratios(row: dict[str, Any], keys: Sequence[str], pairs: list[str]) -> dict[str, Any]:
    generators: list[str] = row["generators"]
    out = {}
    for pair in pairs:
        a, b = (generators.index(g) for g in pair.split("/"))
        out[pair] = {key: ratio(row[key][a], row[key][b]) for key in keys}
    return out


def comparison_rows(pair: dict[str, Any], generators: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of one (target, round) measured by ``generators``: a ``step`` row per load step
    and one ``run`` row. Each figure is a list in the order of ``generators``; a generator whose
    measurement failed has ``None`` figures."""
    results: list[dict[str, Any]] = [pair.get(g) or {} for g in generators]
    head = {"target": pair["target"], "round": pair["round"], "generators": list(generators)}
    pairs = pairs_of(generators)
    all_steps = [r.get("steps") or [] for r in results]
    rows: list[dict[str, Any]] = []
    for index in range(max(len(s) for s in all_steps)):
        steps = [s[index] if index < len(s) else {} for s in all_steps]
        step: dict[str, Any] = next((s for s in steps if s), {})
        latency = [s.get("latency_ms") or {} for s in steps]
        row: dict[str, Any] = {
            **head,
            "kind": "step",
            "rate": step.get("rate"),
            "offered_deliveries_per_s": step.get("offered_deliveries_per_s"),
            "deliveries_per_s": [s.get("deliveries_per_s") for s in steps],
            "p50_ms": [lat.get("p50") for lat in latency],
            "p99_ms": [lat.get("p99") for lat in latency],
            "client_cpu_pct": [s.get("client_cpu_pct") for s in steps],
            "lost": [s.get("lost") for s in steps],  # the Python generator's: per run only
            "scheduling_delay_p99_ms": [s.get("event_loop_delay_p99_ms") for s in steps],
            # the Go generator's: a message's last delivery minus its first
            "fanout_spread_p50_ms": [(s.get("fanout_spread_ms") or {}).get("p50") for s in steps],
        }
        row["ratios"] = _ratios(row, COMPARED, pairs)
        row["agree"] = {p: _agrees(r) for p, r in row["ratios"].items()}
        rows.append(row)
    run: dict[str, Any] = {
        **head,
        "kind": "run",
        "join_s": [(r.get("join") or {}).get("total_s") for r in results],
        "joined": [(r.get("join") or {}).get("ok") for r in results],
        "planned": next((r["join"]["planned"] for r in results if r.get("join")), None),
        "sent": [_sent(g, r) for g, r in zip(generators, results, strict=True)],
        "lost": [_lost(g, r) for g, r in zip(generators, results, strict=True)],
        "errors": [_errors(g, r) for g, r in zip(generators, results, strict=True)],
        "order": pair.get("order"),
    }
    run["join_ratios"] = {p: r["join_s"] for p, r in _ratios(run, ("join_s",), pairs).items()}
    rows.append(run)
    return rows


def _f(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or abs(value) >= 100:
        return str(round(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def tables(rows: list[dict[str, Any]]) -> str:
    """Three text tables: each generator's figures per load step (delay: its own scheduling
    delay; spread: how long a message took to reach everyone, Go only); the ratios of each pair
    (and whether they agree within 1.5x); each generator's join storm and loss."""
    steps = [
        f"{'target':<16}{'rnd':>4}  {'offered/s':>9}  {'gen':<7}{'deliv/s':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'gen CPU%':>9}{'lost':>8}{'delay p99 ms':>13}{'spread p50':>11}"
    ]
    ratios = [
        f"{'target':<16}{'rnd':>4}  {'offered/s':>9}  {'ratio':<12}{'deliv/s':>9}{'p50':>8}"
        f"{'p99':>8}  agree(1.5x)"
    ]
    runs = [
        f"{'target':<16}{'rnd':>4}  {'gen':<7}{'join all s':>11}{'joined':>8}{'sent':>8}"
        f"{'lost':>9}  errors"
    ]
    for row in rows:
        lead = f"{row['target']:<16}{row['round']:>4}  "
        if row["kind"] == "step":
            offered = f"{_f(row['offered_deliveries_per_s']):>9}  "
            for i, generator in enumerate(row["generators"]):
                steps.append(
                    lead
                    + offered
                    + f"{generator:<7}{_f(row['deliveries_per_s'][i]):>9}"
                    + f"{_f(row['p50_ms'][i]):>9}{_f(row['p99_ms'][i]):>9}"
                    + f"{_f(row['client_cpu_pct'][i]):>9}{_f(row['lost'][i]):>8}"
                    + f"{_f(row['scheduling_delay_p99_ms'][i]):>13}"
                    + f"{_f(row['fanout_spread_p50_ms'][i]):>11}"
                )
            for pair, r in row["ratios"].items():
                agree = {True: "yes", False: "NO", None: "-"}[row["agree"][pair]]
                ratios.append(
                    lead
                    + offered
                    + f"{pair:<12}{_x(r['deliveries_per_s']):>9}{_x(r['p50_ms']):>8}"
                    + f"{_x(r['p99_ms']):>8}  {agree}"
                )
        else:
            for i, generator in enumerate(row["generators"]):
                runs.append(
                    lead
                    + f"{generator:<7}{_f(row['join_s'][i]):>11}{_f(row['joined'][i]):>8}"
                    + f"{_f(row['sent'][i]):>8}{_f(row['lost'][i]):>9}  {row['errors'][i] or ''}"
                )
            for pair, r in row["join_ratios"].items():
                ratios.append(lead + f"{'join':>9}  {pair:<12}{'':>9}{'':>8}{'':>8}  {_x(r)}")
            runs.append(lead + "order " + "→".join(row["order"] or []))
    return "\n".join([*steps, "", *ratios, "", *runs])
