"""The benchmark's printed table: every BatchLab figure next to the no-op floor and the peer, both ratios, the bill, and one line per target.

Prices are AWS list prices for us-east-1 (on-demand DynamoDB, standard SQS),
as published on 2026-11-26 (DynamoDB's since its 2024-11-01 cut); free tiers ignored.
"""

from statistics import mean

PRICES = {  # USD per million
    "sqs_request": 0.40,  # standard queue; one request per started 64 KB of payload
    "dynamodb_write_unit": 0.625,  # on-demand write request unit
    "dynamodb_read_unit": 0.125,  # on-demand read request unit
}
PRICES_AS_OF = "2026-11-26, us-east-1"
LATENCY_GOAL_MS = 100
ITEMS_GOAL_PER_SECOND, ITEMS_GOAL_ITEMS, ITEMS_SCALING_GOAL = 2000, 10_000, 1.8


def _ratio(ours, base) -> str:
    return "-" if not ours or not base else f"{ours / base:.2f}x"


def _g(value, unit="") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def cost_per_million(requests: dict, write_units: dict, read_units: dict) -> dict:
    """USD per million jobs from per-job requests and units (keys "service.Operation")."""
    sqs = sum(v for k, v in requests.items() if k.startswith("sqs."))
    writes, reads = sum(write_units.values()), sum(read_units.values())
    cost = {"sqs": sqs * PRICES["sqs_request"], "dynamodb_writes": writes * PRICES["dynamodb_write_unit"],
            "dynamodb_reads": reads * PRICES["dynamodb_read_unit"]}
    return {k: round(v, 4) for k, v in cost.items()} | {"total": round(sum(cost.values()), 4)}


def target_line(name: str, measured: str, goal: str, met: bool | None) -> str:
    """`target <name>: <measured> vs <goal> — met|missed` (None: not measured in this run)."""
    return f"target {name}: {measured} vs {goal} — {'not measured' if met is None else 'met' if met else 'missed'}"


def _submits(r: dict, target: str, clients: int) -> dict | None:
    rows = [s for s in r["submits"] if s["target"] == target and s["clients"] == clients]
    if not rows:
        return None
    return {k: round(mean(s[k] for s in rows), 3) for k in ("per_second", "latency_ms_p50", "web_cpu_ms_per_post")} | {
        "requests_per_post": rows[-1]["requests_per_post"], "rounds": len(rows)}


def _row(name: str, floor, peer, ours, note: str = "") -> str:
    """A figure with both baselines and BatchLab's ratio to each (numbers) or given text."""
    value = lambda x: x if isinstance(x, str) else _g(x)  # noqa: E731
    ratio = lambda base: _ratio(ours, base) if not isinstance(ours, str) and not isinstance(base, str) else "-"  # noqa: E731
    return f"| {name} | {value(floor)} | {value(peer)} | {value(ours)} | {ratio(floor)} | {ratio(peer)} | {note} |"


def _units(d: dict) -> float:
    return round(sum(d["write_units_per_job"].values()), 3)


def table(r: dict) -> str:
    meta = r.get("meta", {})
    lines = [f"BatchLab vs the no-op floor (bare Celery, bare DRF view) and the peer (Celery + DynamoDB result backend, "
             f"task_track_started) on the embedded stack (moto), {meta.get('cpus')} CPUs, load "
             f"{', '.join(f'{x:.2f}' for x in meta.get('load_average', []))} at the end, {meta.get('seconds')} s",
             "", "| figure | no-op floor | peer | BatchLab | x floor | x peer | note |", "|---|---|---|---|---|---|---|"]
    targets = []
    drains = {}
    for d in r["drains"]:
        drains.setdefault((d["workers"], d["concurrency"]), {})[d["system"]] = d
    for (w, c), trio in drains.items():
        floor, peer, ours = trio.get("bare"), trio.get("peer"), trio.get("batchlab")
        if not (floor and peer and ours):
            continue
        busiest = max(ours["moto_cpu_ms_per_job"].values())
        lines.append(_row(f"drain {ours['jobs']}, {w} workers x {c} (jobs/s)", floor["per_second"], peer["per_second"], ours["per_second"],
                          f"moto ceiling ~{1000 / busiest:.0f} jobs/s (1 / busiest moto's CPU per job)" if busiest else ""))
        lines.append(_row(f"worker CPU per job, {w} x {c} (ms)", floor["worker_cpu_ms_per_job"], peer["worker_cpu_ms_per_job"],
                          ours["worker_cpu_ms_per_job"]))
        lines.append(_row(f"DynamoDB write units per job, {w} x {c}", _units(floor), _units(peer), _units(ours),
                          "submit + run, counted at the boundary"))
        targets.append(target_line(f"drain {w}x{c}", f"{_g(ours['per_second'])} jobs/s ({_ratio(ours['per_second'], peer['per_second'])} the peer)",
                                   f">= 1.0x the peer's {_g(peer['per_second'])}", ours["per_second"] >= peer["per_second"]))
        targets.append(target_line(f"worker CPU per job {w}x{c}", f"{_g(ours['worker_cpu_ms_per_job'])} ms "
                                   f"({_ratio(ours['worker_cpu_ms_per_job'], peer['worker_cpu_ms_per_job'])} the peer)",
                                   f"<= 1.0x the peer's {_g(peer['worker_cpu_ms_per_job'])} ms",
                                   ours["worker_cpu_ms_per_job"] <= peer["worker_cpu_ms_per_job"]))
    pairs = [(trio["peer"], trio["batchlab"]) for trio in drains.values() if "peer" in trio and "batchlab" in trio]
    if pairs:
        peer_units, our_units = mean(_units(p) for p, _ in pairs), mean(_units(o) for _, o in pairs)
        targets.append(target_line("DynamoDB write units per job", f"{our_units:.2f}", f"<= the peer's {peer_units:.2f} + 1",
                                   our_units <= peer_units + 1))
    for clients in sorted({s["clients"] for s in r["submits"]}, reverse=True):
        ours, floor, peer = (_submits(r, t, clients) for t in ("batchlab", "bare-validate", "peer"))
        if not (ours and floor and peer):
            continue
        lines.append(_row(f"web CPU per POST, {clients} clients (ms)", floor["web_cpu_ms_per_post"], peer["web_cpu_ms_per_post"],
                          ours["web_cpu_ms_per_post"], "floor: validate only; peer: validate + apply_async"))
        lines.append(_row(f"POSTs/s, {clients} clients", floor["per_second"], peer["per_second"], ours["per_second"]))
        lines.append(_row(f"POST p50, {clients} clients (ms)", floor["latency_ms_p50"], peer["latency_ms_p50"], ours["latency_ms_p50"]))
        targets.append(target_line(f"web CPU per POST {clients} clients", f"{_g(ours['web_cpu_ms_per_post'])} ms "
                                   f"({_ratio(ours['web_cpu_ms_per_post'], peer['web_cpu_ms_per_post'])} the peer's view)",
                                   f"<= 1.0x the peer's {_g(peer['web_cpu_ms_per_post'])} ms",
                                   ours["web_cpu_ms_per_post"] <= peer["web_cpu_ms_per_post"]))
    steady = {s["system"]: s for s in r["steady"]}
    if len(steady) == 3:
        floor, peer, ours = steady["bare"], steady["peer"], steady["batchlab"]
        lines.append(_row(f"worker CPU per job at {_g(ours['rate'])} jobs/s (ms)", floor["worker_cpu_ms_per_job"],
                          peer["worker_cpu_ms_per_job"], ours["worker_cpu_ms_per_job"],
                          f"backlog at the end: floor {floor['backlog_at_end']}, peer {peer['backlog_at_end']}, BatchLab {ours['backlog_at_end']}"))
    latency = {x["system"]: x for x in r.get("latency") or []}
    if "batchlab" in latency:
        ours, peer = latency["batchlab"], latency.get("peer") or {}
        lines.append(_row("POST -> done at low load, p50 (ms)", "-", peer.get("own_ms_p50"), ours["own_ms_p50"],
                          "the system's own times; peer: POST sent -> date_done"))
        lines.append(_row("POST -> done at low load, p95 (ms)", "-", peer.get("own_ms_p95"), ours["own_ms_p95"]))
        lines.append(_row("POST -> done seen by a polling client, p50 (ms)", "-", peer.get("seen_ms_p50"), ours["seen_ms_p50"],
                          "GET every 10 ms"))
        targets.append(target_line("POST -> COMPLETED p50 at low load", f"{_g(ours['own_ms_p50'])} ms",
                                   f"<= {LATENCY_GOAL_MS} ms", ours["own_ms_p50"] is not None and ours["own_ms_p50"] <= LATENCY_GOAL_MS))
    lines += _idle_rows(r)
    lines += _requests_section(r)
    targets += _item_targets(r)
    return "\n".join(lines + ["", *targets])


def _idle_rows(r: dict) -> list[str]:
    if not r.get("idle"):
        return []
    floor, peer, ours = (r["idle"][s] for s in ("bare", "peer", "batchlab"))
    every = lambda d: ", ".join(f"{k} {_g(v)}" for k, v in d.items()) or "none"  # noqa: E731
    lines = [_row("idle: ReceiveMessage per worker per minute", *(x["receives_per_worker_minute"] for x in (floor, peer, ours))),
             _row("idle: worker CPU per minute (ms)", *(x["cpu_ms_per_minute"] for x in (floor, peer, ours))),
             _row("idle: all AWS requests of the workers per minute", *(every(x["requests_per_minute"]) for x in (floor, peer, ours)),
                  "BatchLab's include each worker's heartbeat record")]
    sched = r["idle"].get("scheduler")
    if sched:
        lines.append(_row("idle: the scheduler's requests per minute", "-", "-", every(sched["requests_per_minute"]),
                          f"read units per minute {_g(round(sum(sched['read_units_per_minute'].values()), 2))}"))
    return lines


def _item_targets(r: dict) -> list[str]:
    runs = sorted(r.get("batch") or [], key=lambda b: b["workers"])
    if not runs:
        return []
    best = runs[-1]
    rate = best["own_items_per_second"] or best["items_per_second"]
    measured = f"{_g(rate)} items/s ({best['items']} items, {best['workers']} workers)"
    as_specified = best["items"] >= ITEMS_GOAL_ITEMS and best["workers"] == 2
    lines = [target_line("item job throughput", measured, f">= {ITEMS_GOAL_PER_SECOND} items/s with {ITEMS_GOAL_ITEMS:,} items and 2 workers"
                         + ("" if as_specified else " (this run's item count or workers differ)"), rate >= ITEMS_GOAL_PER_SECOND)]
    if len(runs) >= 2:
        one, two = (b["own_items_per_second"] or b["items_per_second"] for b in (runs[0], runs[-1]))
        lines.append(target_line(f"item job {runs[-1]['workers']} workers vs {runs[0]['workers']}", f"{_ratio(two, one)}",
                                 f">= {ITEMS_SCALING_GOAL}x", bool(one and two) and two / one >= ITEMS_SCALING_GOAL))
    lines.append(target_line("1,000,000-line NDJSON file", "not run by make bench", "accepted, completed, memory bounded", None))
    return lines


SUSTAINED_JOBS_PER_SECOND = 100  # the seeds' model: 100 users x 1 job/s


def _per_minute_cost(requests: dict, read_units: dict | None = None) -> float:
    """USD per minute of clock-driven requests (SQS requests, DynamoDB writes taken as 1 unit each, reads as given)."""
    sqs = sum(v for k, v in requests.items() if k.startswith("sqs."))
    writes = sum(v for k, v in requests.items() if k in ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem"))
    reads = sum((read_units or {}).values())
    return (sqs * PRICES["sqs_request"] + writes * PRICES["dynamodb_write_unit"] + reads * PRICES["dynamodb_read_unit"]) / 1e6


def _bill_lines(r: dict) -> list[str]:
    """The bill per million jobs of each system (mean over the drains) and per day at SUSTAINED_JOBS_PER_SECOND."""
    per_system = {}
    for d in r["drains"]:
        per_system.setdefault(d["system"], []).append(
            cost_per_million(d["requests_per_job"], d["write_units_per_job"], d["read_units_per_job"])["total"])
    if not per_system:
        return []
    million = {s: mean(v) for s, v in per_system.items()}
    per_day = SUSTAINED_JOBS_PER_SECOND * 86_400 / 1e6
    names = {"bare": "no-op floor", "peer": "peer", "batchlab": "BatchLab"}
    lines = ["", f"The bill: per million echo jobs (mean of the drains) "
             + ", ".join(f"{names[s]} ${million[s]:.3f}" for s in names if s in million)
             + (f" (BatchLab {_ratio(million['batchlab'], million['peer'])} the peer)" if {"batchlab", "peer"} <= million.keys() else "")
             + f"; at {SUSTAINED_JOBS_PER_SECOND} jobs/s sustained ({per_day:g} M jobs a day): "
             + ", ".join(f"{names[s]} ${million[s] * per_day:.2f}/day" for s in names if s in million)]
    if r.get("idle"):
        clock = {s: _per_minute_cost(r["idle"][s]["requests_per_minute"]) * 1440 for s in ("bare", "peer", "batchlab")}
        sched = r["idle"].get("scheduler") or {}
        scheduler_day = _per_minute_cost(sched.get("requests_per_minute", {}), sched.get("read_units_per_minute")) * 1440
        lines.append("Clock-driven, whatever the load (the last configuration's workers, from the idle window): "
                     + ", ".join(f"{names[s]} ${clock[s]:.4f}/day" for s in names)
                     + f"; BatchLab's scheduler ${scheduler_day:.4f}/day.")
    return lines


def _requests_section(r: dict) -> list[str]:
    lines = ["", "AWS requests and billing units per job (submit + run, counted in our own processes):",
             "| configuration | system | requests per job | write units | read units | USD per million jobs |", "|---|---|---|---|---|---|"]
    order = {"bare": 0, "peer": 1, "batchlab": 2}
    for d in sorted(r["drains"], key=lambda d: order[d["system"]]):
        cost = cost_per_million(d["requests_per_job"], d["write_units_per_job"], d["read_units_per_job"])
        lines.append(f"| {d['workers']} x {d['concurrency']} | {d['system']} | "
                     + ", ".join(f"{k} {_g(v)}" for k, v in d["requests_per_job"].items())
                     + f" | {_g(_units(d))} | {_g(round(sum(d['read_units_per_job'].values()), 3))} | "
                     f"{cost['total']:.3f} (SQS {cost['sqs']:.3f}, DynamoDB writes {cost['dynamodb_writes']:.3f}, reads {cost['dynamodb_reads']:.3f}) |")
    for b in r.get("batch") or []:
        cost = cost_per_million(b["requests_per_item"], b["write_units_per_item"], b["read_units_per_item"])
        lines.append(f"| item job, {b['items']} checksum items in chunks of {b['chunk_size']}, {b['workers']} workers | batchlab, per item | "
                     + ", ".join(f"{k} {_g(v)}" for k, v in b["requests_per_item"].items())
                     + f" | {_g(round(sum(b['write_units_per_item'].values()), 4))} | {_g(round(sum(b['read_units_per_item'].values()), 4))} | "
                     f"{cost['total']:.3f} per million items (SQS {cost['sqs']:.3f}, DynamoDB writes {cost['dynamodb_writes']:.3f}, "
                     f"reads {cost['dynamodb_reads']:.3f}); {b['items_per_second']} items/s from the POST "
                     f"({_g(b['own_items_per_second'])} by the job's own times), {b['status']}; includes the benchmark's status polls |")
    lines += _bill_lines(r)
    lines.append(f"Prices ({PRICES_AS_OF}): SQS standard ${PRICES['sqs_request']}/M requests, DynamoDB on-demand "
                 f"${PRICES['dynamodb_write_unit']}/M write units, ${PRICES['dynamodb_read_unit']}/M read units; free tiers ignored.")
    return lines
