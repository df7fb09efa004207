"""The crosscheck's figures side by side: one row per target, round and load step (and one per
target and round for the join storm and loss), each figure from both generators and its ratio
Node ÷ Python. ``agree`` says whether deliveries/s, p50 and p99 are within :data:`AGREE` of
each other (either way), the criterion of issue 18's acceptance 4."""

from __future__ import annotations

from typing import Any

__all__ = ["AGREE", "comparison_rows", "ratio", "tables"]

#: Two measurements agree when neither is more than this multiple of the other.
AGREE = 1.5


def ratio(node: float | None, python: float | None) -> float | None:
    """``node`` ÷ ``python``, or None when either is missing or python is 0."""
    if node is None or python is None or python == 0:
        return None
    return round(node / python, 3)


def _agrees(*ratios: float | None) -> bool | None:
    if any(r is None for r in ratios):
        return None
    return all(r is not None and 1 / AGREE <= r <= AGREE for r in ratios)


def _python_loss(result: dict[str, Any]) -> int:
    """Deliveries the Python generator's clients missed: messages sent x joined - received."""
    sent = sum(int(s["sent"]) for s in result["steps"])
    return max(0, sent * int(result["join"]["ok"]) - int(result["deliveries"]))


def comparison_rows(pair: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one (target, round): a ``step`` row per load step and one ``run`` row.
    A generator whose measurement failed has ``None`` figures."""
    python: dict[str, Any] = pair.get("python") or {}
    node: dict[str, Any] = pair.get("node") or {}
    head = {"target": pair["target"], "round": pair["round"]}
    py_steps = python.get("steps") or []
    node_steps = node.get("steps") or []
    rows: list[dict[str, Any]] = []
    for index in range(max(len(py_steps), len(node_steps))):
        p = py_steps[index] if index < len(py_steps) else {}
        n = node_steps[index] if index < len(node_steps) else {}
        step = p or n
        pl, nl = p.get("latency_ms") or {}, n.get("latency_ms") or {}
        row = {
            **head,
            "kind": "step",
            "rate": step.get("rate"),
            "offered_deliveries_per_s": step.get("offered_deliveries_per_s"),
            "deliveries_per_s": [p.get("deliveries_per_s"), n.get("deliveries_per_s")],
            "p50_ms": [pl.get("p50"), nl.get("p50")],
            "p99_ms": [pl.get("p99"), nl.get("p99")],
            "client_cpu_pct": [p.get("client_cpu_pct"), n.get("client_cpu_pct")],
            "node_lost": n.get("lost"),
            "node_event_loop_delay_p99_ms": n.get("event_loop_delay_p99_ms"),
        }
        ratios = {
            key: ratio(row[key][1], row[key][0]) for key in ("deliveries_per_s", "p50_ms", "p99_ms")
        }
        row["ratio"] = ratios
        row["agree"] = _agrees(*ratios.values())
        rows.append(row)
    pj, nj = python.get("join") or {}, node.get("join") or {}
    rows.append(
        {
            **head,
            "kind": "run",
            "join_s": [pj.get("total_s"), nj.get("total_s")],
            "join_ratio": ratio(nj.get("total_s"), pj.get("total_s")),
            "joined": [pj.get("ok"), nj.get("ok")],
            "planned": pj.get("planned", nj.get("planned")),
            "sent": [sum(int(s["sent"]) for s in py_steps) if python else None, node.get("sent")],
            "lost": [_python_loss(python) if python else None, node.get("lost")],
            "errors": [python.get("errors"), {**node.get("errors", {}), **node.get("closes", {})}],
            "order": pair.get("order"),
        }
    )
    return rows


def _f(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or abs(value) >= 100:
        return str(round(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _pair(values: list[Any], r: float | None = None) -> str:
    text = f"{_f(values[0])} | {_f(values[1])}"
    return text + (f" ({r:.2f}x)" if r is not None else "")


def tables(rows: list[dict[str, Any]]) -> str:
    """Two text tables: the load steps, then the join storms and loss; Python | Node (ratio)."""
    steps = [
        f"{'target':<16}{'rnd':>4}  {'offered/s':>9}  {'deliveries/s py | node':<26}"
        f"{'p50 ms py | node':<24}{'p99 ms py | node':<24}{'gen CPU % py | node':<22}"
        f"{'node lost':>9}  agree(1.5x)"
    ]
    runs = [
        f"{'target':<16}{'rnd':>4}  {'join all s py | node':<26}{'joined py | node':<20}"
        f"{'sent py | node':<18}{'lost py | node':<18}order"
    ]
    for row in rows:
        lead = f"{row['target']:<16}{row['round']:>4}  "
        if row["kind"] == "step":
            r = row["ratio"]
            agree = {True: "yes", False: "NO", None: "-"}[row["agree"]]
            steps.append(
                lead
                + f"{_f(row['offered_deliveries_per_s']):>9}  "
                + f"{_pair(row['deliveries_per_s'], r['deliveries_per_s']):<26}"
                + f"{_pair(row['p50_ms'], r['p50_ms']):<24}"
                + f"{_pair(row['p99_ms'], r['p99_ms']):<24}"
                + f"{_pair(row['client_cpu_pct']):<22}"
                + f"{_f(row['node_lost']):>9}  {agree}"
            )
        else:
            runs.append(
                lead
                + f"{_pair(row['join_s'], row['join_ratio']):<26}"
                + f"{_pair(row['joined']):<20}"
                + f"{_pair(row['sent']):<18}"
                + f"{_pair(row['lost']):<18}"
                + "→".join(row["order"] or [])
            )
    return "\n".join([*steps, "", *runs])
