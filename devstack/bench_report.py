"""The benchmark's printed table: every BatchLab figure next to its bare baseline, the ratio, the target, and the bill.

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


def _submits(r: dict, target: str, clients: int) -> dict | None:
    rows = [s for s in r["submits"] if s["target"] == target and s["clients"] == clients]
    if not rows:
        return None
    return {k: round(mean(s[k] for s in rows), 3) for k in ("per_second", "latency_ms_p50", "web_cpu_ms_per_post")} | {
        "requests_per_post": rows[-1]["requests_per_post"], "rounds": len(rows)}


def _row(name: str, base, ours, ratio: str | None = None, note: str = "") -> str:
    return f"| {name} | {base} | {ours} | {ratio if ratio is not None else '-'} | {note} |"


def table(r: dict) -> str:
    meta = r.get("meta", {})
    lines = [f"BatchLab vs bare baselines on the embedded stack (moto), {meta.get('cpus')} CPUs, "
             f"load {', '.join(f'{x:.2f}' for x in meta.get('load_average', []))} at the end, {meta.get('seconds')} s",
             "", "| figure | bare | BatchLab | ratio | note |", "|---|---|---|---|---|"]
    drains = {}
    for d in r["drains"]:
        drains.setdefault((d["workers"], d["concurrency"]), {})[d["system"]] = d
    for (w, c), pair in drains.items():
        base, ours = pair.get("bare"), pair.get("batchlab")
        if not base or not ours:
            continue
        ceiling = 1000 / max(ours["moto_cpu_ms_per_job"].values()) if max(ours["moto_cpu_ms_per_job"].values()) else None
        lines.append(_row(f"drain {ours['jobs']}, {w} workers x {c} (jobs/s)", _g(base["per_second"]), _g(ours["per_second"]),
                          _ratio(ours["per_second"], base["per_second"]),
                          f"moto ceiling ~{ceiling:.0f} jobs/s (1 / busiest moto's CPU per job)" if ceiling else ""))
        lines.append(_row(f"worker CPU per job, {w} x {c} (ms)", _g(base["worker_cpu_ms_per_job"]), _g(ours["worker_cpu_ms_per_job"]),
                          _ratio(ours["worker_cpu_ms_per_job"], base["worker_cpu_ms_per_job"]), "target <= 1.5x"))
    for clients in sorted({s["clients"] for s in r["submits"]}, reverse=True):
        ours, valid, store = (_submits(r, t, clients) for t in ("batchlab", "bare-validate", "bare-store"))
        if not ours or not valid:
            continue
        lines.append(_row(f"web CPU per POST, {clients} clients (ms)", f"{_g(valid['web_cpu_ms_per_post'])} validate / "
                          f"{_g(store and store['web_cpu_ms_per_post'])} +PutItem+SendMessage", _g(ours["web_cpu_ms_per_post"]),
                          f"{_ratio(ours['web_cpu_ms_per_post'], valid['web_cpu_ms_per_post'])} / "
                          f"{_ratio(ours['web_cpu_ms_per_post'], store and store['web_cpu_ms_per_post'])}",
                          "target <= 1.2x the bare view with the same two AWS calls"))
        lines.append(_row(f"POSTs/s, {clients} clients", f"{_g(valid['per_second'])} / {_g(store and store['per_second'])}",
                          _g(ours["per_second"]), _ratio(ours["per_second"], store and store["per_second"]), "vs the bare view with AWS calls"))
        lines.append(_row(f"POST p50, {clients} clients (ms)", f"{_g(valid['latency_ms_p50'])} / {_g(store and store['latency_ms_p50'])}",
                          _g(ours["latency_ms_p50"]), _ratio(ours["latency_ms_p50"], store and store["latency_ms_p50"])))
    steady = {s["system"]: s for s in r["steady"]}
    if len(steady) == 2:
        base, ours = steady["bare"], steady["batchlab"]
        lines.append(_row(f"worker CPU per job at {_g(ours['rate'])} jobs/s (ms)", _g(base["worker_cpu_ms_per_job"]),
                          _g(ours["worker_cpu_ms_per_job"]), _ratio(ours["worker_cpu_ms_per_job"], base["worker_cpu_ms_per_job"]),
                          f"backlog at the end: bare {base['backlog_at_end']}, BatchLab {ours['backlog_at_end']}"))
    if r.get("latency"):
        lat = r["latency"]
        lines.append(_row("POST -> COMPLETED at low load (ms)", "-", f"p50 {_g(lat['own_ms_p50'])} / p95 {_g(lat['own_ms_p95'])} (job's own times); "
                          f"p50 {_g(lat['seen_ms_p50'])} seen by a polling client", None, "target p50 <= 100 ms"))
    if r.get("idle"):
        base, ours = r["idle"]["bare"], r["idle"]["batchlab"]
        lines.append(_row("idle: ReceiveMessage per worker per minute", _g(base["receives_per_worker_minute"]),
                          _g(ours["receives_per_worker_minute"]), _ratio(ours["receives_per_worker_minute"], base["receives_per_worker_minute"]), "target <= 3"))
        lines.append(_row("idle: worker CPU per minute (ms)", _g(base["cpu_ms_per_minute"]), _g(ours["cpu_ms_per_minute"]),
                          _ratio(ours["cpu_ms_per_minute"], base["cpu_ms_per_minute"])))
        every = lambda d: ", ".join(f"{k} {_g(v)}" for k, v in d.items()) or "none"  # noqa: E731
        lines.append(_row("idle: all AWS requests of the workers per minute", every(base["requests_per_minute"]),
                          every(ours["requests_per_minute"]), None, "BatchLab's include each worker's heartbeat record"))
        sched = r["idle"].get("scheduler")
        if sched:
            lines.append(_row("idle: the scheduler's requests per minute", "-", every(sched["requests_per_minute"]), None,
                              f"read units per minute {_g(round(sum(sched['read_units_per_minute'].values()), 2))}"))
    lines += _requests_section(r)
    return "\n".join(lines)


def _requests_section(r: dict) -> list[str]:
    ours = [d for d in r["drains"] if d["system"] == "batchlab"]
    base = [d for d in r["drains"] if d["system"] == "bare"]
    lines = ["", "AWS requests and billing units per job (submit + run, counted in our own processes):",
             "| configuration | system | requests per job | write units | read units | USD per million jobs |", "|---|---|---|---|---|---|"]
    for d in base + ours:
        cost = cost_per_million(d["requests_per_job"], d["write_units_per_job"], d["read_units_per_job"])
        lines.append(f"| {d['workers']} x {d['concurrency']} | {d['system']} | "
                     + ", ".join(f"{k} {_g(v)}" for k, v in d["requests_per_job"].items())
                     + f" | {_g(round(sum(d['write_units_per_job'].values()), 3))} | {_g(round(sum(d['read_units_per_job'].values()), 3))} | "
                     f"{cost['total']:.3f} (SQS {cost['sqs']:.3f}, DynamoDB writes {cost['dynamodb_writes']:.3f}, reads {cost['dynamodb_reads']:.3f}) |")
    if r.get("batch"):
        b = r["batch"]
        cost = cost_per_million(b["requests_per_item"], b["write_units_per_item"], b["read_units_per_item"])
        lines.append(f"| item job, {b['items']} checksum items in chunks of {b['chunk_size']} | batchlab, per item | "
                     + ", ".join(f"{k} {_g(v)}" for k, v in b["requests_per_item"].items())
                     + f" | {_g(round(sum(b['write_units_per_item'].values()), 4))} | {_g(round(sum(b['read_units_per_item'].values()), 4))} | "
                     f"{cost['total']:.3f} per million items (SQS {cost['sqs']:.3f}, DynamoDB writes {cost['dynamodb_writes']:.3f}, "
                     f"reads {cost['dynamodb_reads']:.3f}); {b['items_per_second']} items/s, {b['status']}; includes the benchmark's status polls |")
    lines.append(f"Prices ({PRICES_AS_OF}): SQS standard ${PRICES['sqs_request']}/M requests, DynamoDB on-demand "
                 f"${PRICES['dynamodb_write_unit']}/M write units, ${PRICES['dynamodb_read_unit']}/M read units; free tiers ignored.")
    return lines
