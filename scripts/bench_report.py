"""Writes one benchmark's (or the drill's) results into docs/benchmarks.md (docs/reliability.md), between markers of its own, with
the machine and the date, so that each script owns its section and reruns replace it.

usage: bench_report.py NAME RESULTS.jsonl docs/benchmarks.md|docs/reliability.md
"""

import datetime
import json
import os
import pathlib
import platform
import re
import statistics
import sys

HEADER = """# Benchmarks

Measured on the project's own machines with the scripts named in each section; every number
below comes from a run of that script, which rewrites its own section. Machine details are
read at run time.
"""


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"


def registry_section(rows):
    by_name = {row["scenario"]: row for row in rows}
    hello = by_name.get("hello-axum GET /")
    lookup = by_name.get("GET /schemas/ids/{id}")
    lines = [
        "| scenario | requests/s | p50 ms | p90 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['scenario']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {row['errors']} |"
        )
    verdict = []
    if hello and lookup and hello["rps"]:
        ratio = lookup["rps"] / hello["rps"]
        verdict.append(
            f"- Id lookups run at **{ratio:.0%}** of the hello-world rate "
            f"(target >= 80%: {'met' if ratio >= 0.8 else 'NOT met'}), "
            f"p99 **{lookup['p99_ms']:.2f} ms** (target < 5 ms: {'met' if lookup['p99_ms'] < 5 else 'NOT met'})."
        )
    sample = rows[0] if rows else {}
    return "\n".join(
        [
            "## Contract registry (`scripts/bench-registry.sh`)",
            "",
            f"- Date: {datetime.date.today().isoformat()}; machine: {machine()}.",
            f"- Server pinned to CPU 0, load generator (`sagaway-loadgen`, closed loop, "
            f"{sample.get('concurrency', '?')} clients, {sample.get('seconds', '?')} s after 2 s warm-up) pinned to CPU 1; "
            "release builds; PostgreSQL on the same machine, unpinned.",
            "",
            *lines,
            "",
            *verdict,
            "- Registering an existing schema is a transaction (advisory lock, read of the subject); "
            "a new schema adds a compatibility check and two inserts, so both are bounded by PostgreSQL commits.",
        ]
    )


def services_section(rows):
    memory = [r for r in rows if r["scenario"] == "idle memory"]
    rate = next((r for r in rows if r["scenario"] == "CreateOrder at a fixed rate"), None)
    outbox = next((r for r in rows if r["scenario"] == "outbox latency"), None)
    closed = next((r for r in rows if r["scenario"] == "CreateOrder closed loop"), None)
    lines = [
        "## Services and the outbox (`scripts/bench-services.sh`)",
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: {machine()}.",
        "- Release builds; registry, order, product and user services, PostgreSQL and the nisshi broker all share "
        "the machine's cores, unpinned. Load from `sagaway-grpc-bench` over direct gRPC (no gateway); each "
        "CreateOrder is a one-line order for a catalogue product and makes one call to the product service "
        "and one transaction with one outbox row.",
        "",
        "| measurement | result |",
        "|---|---|",
    ]
    if outbox:
        lines.append(
            f"| outbox latency, insert to broker ack, at {outbox['rate']} events/s | p50 {outbox['p50_s'] * 1000:.1f} ms, "
            f"p99 {outbox['p99_s'] * 1000:.1f} ms, max {outbox['max_s'] * 1000:.1f} ms ({outbox['published']:.0f} events) |"
            if outbox.get("p50_s") is not None
            else f"| outbox latency at {outbox['rate']} events/s | not recorded |"
        )
    if rate:
        lines.append(
            f"| CreateOrder at {rate['rate']:.0f}/s (open loop) | achieved {rate['rps']:.0f}/s, p50 {rate['p50_ms']:.1f} ms, "
            f"p99 {rate['p99_ms']:.1f} ms, {rate['errors']} errors |"
        )
    if closed:
        lines.append(
            f"| CreateOrder throughput, {closed['concurrency']} clients (closed loop) | {closed['rps']:.0f} requests/s, "
            f"p50 {closed['p50_ms']:.1f} ms, p99 {closed['p99_ms']:.1f} ms, {closed['errors']} errors |"
        )
    for row in memory:
        lines.append(f"| idle memory, {row['process']} | {row['rss_kib'] / 1024:.1f} MiB RSS |")
    if outbox and outbox.get("p99_s") is not None:
        met = outbox["p99_s"] <= 0.020
        lines += [
            "",
            f"- Target outbox p99 <= 20 ms at 500 events/s: {'met' if met else 'NOT met'} at {outbox['rate']}/s.",
            "- Outbox quantiles come from the order service's `sagaway_outbox_latency_seconds` summary "
            "(from the row's insert, inside the business transaction, to the broker's ack; sliding window "
            "covering the run, warm-up included).",
        ]
    return "\n".join(lines)


def median(values):
    """The median of the values that are there (None for none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def gateway_section(rows):
    # Every scenario ran once per round; the table shows the median of each figure.
    runs = {}
    for row in rows:
        if row["scenario"] != "idle":
            runs.setdefault(row["scenario"], []).append(row)
    idle = next((row for row in rows if row["scenario"] == "idle"), {})
    rounds = sorted({row.get("round", 1) for scenario in runs.values() for row in scenario})

    def typical(name):
        scenario = runs.get(name)
        if not scenario:
            return None
        summary = dict(scenario[0])
        for key, value in scenario[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "round":
                summary[key] = median(row.get(key) for row in scenario)
        return summary

    def in_round(name, number):
        return next((row for row in runs.get(name, []) if row.get("round", 1) == number), None)

    gateway, direct = typical("gateway"), typical("direct gRPC")
    loadgen = typical("gateway (sagaway-loadgen)")
    gateway_open, direct_open = typical("gateway, open loop"), typical("direct gRPC, open loop")
    sample = gateway or direct or {}
    rate = (gateway_open or direct_open or {}).get("rate")

    def cpu_us(row, process):
        # CPU is read over the whole run (warm-up included); requests/s times its length
        # estimates how many requests that CPU served.
        served = row["rps"] * (row["seconds"] + row.get("warmup", 0))
        value = row.get(f"{process}_cpu_s")
        return f"{value / served * 1e6:.0f}" if served and value is not None else "-"

    def shape(row):
        if row.get("mode") == "open loop":
            return f"open, {row['rate']:.0f}/s"
        return f"closed, {row['concurrency']}"

    def late(row):
        value = row.get("late_p50_ms")
        return "-" if value is None else f"{value * 1000:.0f}"

    lines = [
        "## Gateway (`scripts/bench-gateway.sh`)",
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: {machine()}; "
        f"load average at the first run: {sample.get('load', '?')} (1, 5, 15 min); just before the runs the "
        f"machine was {idle.get('busy_percent_of_a_core', '?')}% of one core busy and the hypervisor took "
        f"{idle.get('steal_percent', '?')}% of it (steal).",
        "- Authenticated `GET /v1/products/{id}` through the gateway (HTTP/1.1 keep-alive) against the same "
        "`ProductService.GetProduct` directly over gRPC (`sagaway-grpc-bench --get-product`, one HTTP/2 connection), "
        f"{sample.get('seconds', '?')} s after {sample.get('warmup', '?')} s warm-up each. "
        f"Closed loop ({sample.get('concurrency', '?')} clients each, `wrk` and our own `sagaway-loadgen` through the "
        "gateway) for the throughput ceiling; open loop at the same fixed rate on both paths (latency from each "
        "request's scheduled start) for the latency the gateway adds. Release builds; the gateway (JWT verification, "
        "the session check and both rate-limit counts, in process after the first request of a session; "
        "transcoding), the product service, PostgreSQL, Redis and the load generator share the machine's cores, "
        "unpinned.",
        f"- {len(rounds)} rounds, each running every row once with the two paths alternating; the table shows the "
        "median over the rounds, and the verdicts below take the median of each round's paired figures.",
        "- CPU per request, in microseconds, by process (utime+stime); `machine` is the busy time of every core "
        "(elapsed less idle and steal in `/proc/stat`), so what it has beyond the named processes is the load "
        "generator and the kernel's network work. `late` is the open-loop tool's own error: how long after its scheduled time a request "
        "started (p50, microseconds), included in its latency.",
        "",
        "| path | load | requests/s | p50 ms | p90 ms | p99 ms | late us | errors | CPU us/request: gateway | product | Redis | PostgreSQL | machine |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (r for r in (gateway, loadgen, direct, gateway_open, direct_open) if r):
        lines.append(
            f"| {row['scenario']} | {shape(row)} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p90_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {late(row)} | {row['errors']:.0f} | {cpu_us(row, 'gateway')} "
            f"| {cpu_us(row, 'product')} | {cpu_us(row, 'redis')} | {cpu_us(row, 'postgres')} "
            f"| {cpu_us(row, 'machine')} |"
        )
    verdict = lambda ok: "met" if ok else "NOT met"
    paired = []
    for number in rounds:
        wrk, grpc = in_round("gateway", number), in_round("direct gRPC", number)
        gw_open, grpc_open = in_round("gateway, open loop", number), in_round("direct gRPC, open loop", number)
        steal = max((row.get("steal_percent", 0) for name in runs for row in runs[name]
                     if row.get("round", 1) == number), default=0)
        paired.append({
            "round": number,
            "steal": steal,
            "ratio": wrk["rps"] / grpc["rps"] if wrk and grpc and grpc["rps"] else None,
            "added50": gw_open["p50_ms"] - grpc_open["p50_ms"] if gw_open and grpc_open else None,
            "added99": gw_open["p99_ms"] - grpc_open["p99_ms"] if gw_open and grpc_open else None,
        })
    cell = lambda value, unit: "-" if value is None else f"{value:.2f}{unit}"
    lines += [
        "",
        f"| round | most steal in a run | gateway / direct requests/s (wrk) | added p50 at {rate or 0:.0f}/s | added p99 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in paired:
        lines.append(
            f"| {r['round']} | {r['steal']}% | {cell(r['ratio'], 'x')} | {cell(r['added50'], ' ms')} "
            f"| {cell(r['added99'], ' ms')} |"
        )
    lines.append("")
    ratio = median(r["ratio"] for r in paired)
    added50 = median(r["added50"] for r in paired)
    added99 = median(r["added99"] for r in paired)
    if ratio is not None:
        lines.append(
            f"- Throughput, judged on the closed-loop wrk runs: **{ratio:.2f}x** the direct gRPC rate "
            f"(median of the rounds; target >= 0.5x: {verdict(ratio >= 0.5)})."
        )
    if added50 is not None and added99 is not None:
        lines.append(
            f"- Added latency at {rate:.0f} requests/s on both paths: **{added50:.2f} ms** at p50 "
            f"(target <= 0.5 ms: {verdict(added50 <= 0.5)}), **{added99:.2f} ms** at p99 "
            f"(target <= 2 ms: {verdict(added99 <= 2)}); median of the rounds."
        )
    if gateway and direct:
        lines.append(
            f"- At the closed-loop ceilings the latencies differ by {gateway['p50_ms'] - direct['p50_ms']:.2f} ms "
            f"at p50 and {gateway['p99_ms'] - direct['p99_ms']:.2f} ms at p99: with {sample.get('concurrency', '?')} "
            "clients always waiting, latency there is the concurrency divided by the rate (queueing on the shared "
            "cores), so it follows the throughput ratio rather than the cost of a hop."
        )
    return "\n".join(lines)


def drill_section(rows):
    kills = [r for r in rows if r.get("kind") == "kill"]
    load = next((r["result"] for r in rows if r.get("kind") == "load"), {})
    check_row = next((r for r in rows if r.get("kind") == "check"), {})
    check = check_row.get("result", {})
    errors = ", ".join(f"{code} {n}" for code, n in load.get("create_errors", {}).items()) or "none"
    refused = ", ".join(f"{code} {n}" for code, n in load.get("cancel_errors", {}).items()) or "none"
    lines = [
        "## Latest drill (`scripts/drill.sh`)",
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: {machine()}; debug builds.",
        f"- Workload: seed {load.get('seed', '?')}, {load.get('orders_sent', '?')} orders sent at "
        f"{load.get('offered_rate', '?')}/s over {load.get('placing_seconds', 0):.0f} s; "
        f"**{load.get('orders_created', '?')} created**; CreateOrder refused while a process was down: {errors}. "
        f"Cancels accepted: {load.get('cancels', 0)}; refused: {refused}. "
        f"Initial stock {load.get('initial_stock', '?')} units, initial funds {load.get('initial_funds', '?')} (minor units).",
        f"- Quiescent before the check: {'yes' if check.get('quiescent') else 'NO'}, "
        f"{check_row.get('settle_s', '?')} s after the workload ended (waiting and checking). "
        f"Verdict: **{'all six invariants hold' if check.get('holds') else str(check.get('violations', '?')) + ' violation(s)'}**.",
        "",
        "| t (s) | SIGKILL | down (s) | healthy again after restart (s) |",
        "|---:|---|---:|---:|",
    ]
    for k in kills:
        lines.append(f"| {k['at_s']} | {k['process']} | {k['down_s']} | {k['restart_s']} |")
    lines += ["", "| invariant | holds | counts |", "|---|---|---|"]
    for inv in check.get("invariants", []):
        counts = ", ".join(f"{name} {value}" for name, value in inv["counts"].items())
        verdict = "yes" if inv["holds"] else f"**NO** ({inv['violations']})"
        lines.append(f"| {inv['invariant']}. {inv['name']} | {verdict} | {counts} |")
    return "\n".join(lines)


def cpu_cell(cpu):
    return ", ".join(f"{cpu.get(name, float('nan')):.1f}" for name in ("broker", "order", "product", "user"))


def saga_section(rows):
    pgbench = next((r for r in rows if r.get("kind") == "pgbench"), {})
    runs = [r for r in rows if r.get("kind") == "run"]
    sample = runs[0] if runs else {}
    lines = [
        "## Order saga end to end (`scripts/bench-saga.sh`)",
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: {machine()}; load average at the start: "
        f"{sample.get('load', '?')} (1, 5, 15 min).",
        "- Orders placed over gRPC at a fixed rate (open loop) by `sagaway-saga load --shape ample` "
        "(stock and money that never run out, so every order goes the whole way: OrderCreated, StockReserved, "
        "PaymentCompleted, OrderCompleted, StockCommitted). Latency is from the order's insert to its "
        "COMPLETED status, both read from the order database's own clock. Release builds; the three services, "
        "the registry, PostgreSQL, the broker (nisshi, fresh log) and the load generator share the cores.",
        f"- Ceiling: PostgreSQL's commit rate on the same server, `pgbench -N` (simple update, one commit per "
        f"transaction), {pgbench.get('clients', '?')} clients for {pgbench.get('seconds', '?')} s: "
        f"**{pgbench.get('tps', 0):.0f} commits/s**.",
        "",
        "| offered orders/s | orders | completed | terminal/s | p50 ms | p90 ms | p99 ms | max ms | commits/order | orders/s at that commit cost | CPU ms/order: broker, order, product, user |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        res = run["result"]
        lat = res.get("latency_ms", {})
        per_order = run.get("commits_per_order") or 0
        ceiling = pgbench.get("tps", 0) / per_order if per_order else float("nan")
        lines.append(
            f"| {res['offered_rate']:.0f} | {res['orders_created']} | {res.get('by_status', {}).get('COMPLETED', 0)} "
            f"| {res.get('terminal_per_second', 0):.0f} | {lat.get('p50', 0):.1f} | {lat.get('p90', 0):.1f} "
            f"| {lat.get('p99', 0):.1f} | {lat.get('max', 0):.1f} | {per_order:.1f} | {ceiling:.0f} "
            f"| {cpu_cell(run.get('cpu_ms_per_order', {}))} |"
        )
    target = next((r for r in runs if r["result"]["offered_rate"] == 100), None)
    if target:
        p99 = target["result"].get("latency_ms", {}).get("p99", float("inf"))
        lines += [
            "",
            f"- At 100 orders/s: p99 **{p99:.1f} ms** from creation to COMPLETED "
            f"(target <= 100 ms: {'met' if p99 <= 100 else 'NOT met'}).",
        ]
    slow = [r for r in runs if r["result"].get("terminal_per_second", 0) < 0.9 * r["result"]["offered_rate"]]
    if slow:
        first = slow[0]
        lines.append(
            f"- From {first['result']['offered_rate']:.0f} orders/s on, orders reach their end more slowly than they "
            "arrive: the backlog grows for the whole run, so latency there is queueing. The CPU column says who "
            "saturates; the run at the highest rate that keeps up is the sustained rate."
        )
    lines.append(
        "- commits/order: transactions committed in the three service databases during the run "
        "(`pg_stat_database.xact_commit`: requests, inbox applications, outbox marks and clean-ups, "
        "polls) divided by the orders; the last column is the pgbench ceiling divided by it."
    )
    return "\n".join(lines)


def main():
    name, results, target = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    sections = {
        "registry": registry_section,
        "services": services_section,
        "gateway": gateway_section,
        "drill": drill_section,
        "saga": saga_section,
    }
    section = sections[name](rows)
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    text = target.read_text() if target.exists() else HEADER
    block = f"{start}\n{section}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    target.write_text(text)


if __name__ == "__main__":
    main()
