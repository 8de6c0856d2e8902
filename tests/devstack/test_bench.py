"""The benchmark's pure helpers: percentiles, timestamps, CPU per process tree, the bill."""

from devstack.bench_measure import group_cpu_ticks, parse_time, percentile
from devstack.bench_report import cost_per_million, table


def test_percentile_interpolates_between_ranks():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile([3, 1, 2], 50) == 2


def test_percentile_of_one_value_is_that_value_and_of_none_is_none():
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None


def test_parse_time_reads_the_api_timestamps():
    assert parse_time("1970-01-01T00:00:01.500000Z") == 1.5
    assert parse_time(None) is None


def test_group_cpu_ticks_follows_descendants_and_not_other_trees():
    table = {1: (0, 10, 100), 2: (1, 11, 5), 3: (2, 12, 7), 4: (0, 13, 50)}
    assert group_cpu_ticks(table, [1]) == {(1, 10): 100, (2, 11): 5, (3, 12): 7}
    assert group_cpu_ticks(table, [99]) == {}


def test_cost_per_million_jobs_at_list_prices():
    cost = cost_per_million({"sqs.SendMessage": 1, "sqs.ReceiveMessage": 1, "sqs.DeleteMessage": 1, "dynamodb.PutItem": 1},
                            {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 2}, {"dynamodb.GetItem": 0.5})
    assert cost == {"sqs": 1.2, "dynamodb_writes": 1.875, "dynamodb_reads": 0.0625, "total": 3.1375}


def _drain(system: str, per_second: float, cpu: float, units: dict) -> dict:
    return {"system": system, "workers": 1, "concurrency": 4, "jobs": 500, "per_second": per_second, "worker_cpu_ms_per_job": cpu,
            "moto_cpu_ms_per_job": {"moto-sqs": 10.0, "moto-dynamodb": 20.0}, "requests_per_job": {"sqs.SendMessage": 1},
            "write_units_per_job": units, "read_units_per_job": {}}


def test_the_table_puts_every_figure_against_both_baselines_and_ends_with_the_target_lines():
    result = {"drains": [_drain("bare", 100, 3.0, {}), _drain("peer", 40, 8.0, {"dynamodb.PutItem": 2}),
                         _drain("batchlab", 50, 10.0, {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 3})],
              "submits": [{"target": t, "clients": 8, "per_second": 100, "latency_ms_p50": 10, "web_cpu_ms_per_post": cpu,
                           "requests_per_post": {}} for t, cpu in (("bare-validate", 2.0), ("peer", 4.0), ("batchlab", 3.0))],
              "steady": [], "latency": [{"system": "batchlab", "own_ms_p50": 120.0, "own_ms_p95": 200.0, "seen_ms_p50": 130.0}],
              "batch": []}
    lines = table(result).splitlines()
    assert "| drain 500, 1 workers x 4 (jobs/s) | 100 | 40 | 50 | 0.50x | 1.25x | moto ceiling ~50 jobs/s (1 / busiest moto's CPU per job) |" in lines
    assert "| worker CPU per job, 1 x 4 (ms) | 3 | 8 | 10 | 3.33x | 1.25x |  |" in lines
    assert lines[-6:] == [
        "",
        "target drain 1x4: 50 jobs/s (1.25x the peer) vs >= 1.0x the peer's 40 — met",
        "target worker CPU per job 1x4: 10 ms (1.25x the peer) vs <= 1.0x the peer's 8 ms — missed",
        "target DynamoDB write units per job: 4.00 vs <= the peer's 2.00 + 1 — missed",
        "target web CPU per POST 8 clients: 3 ms (0.75x the peer's view) vs <= 1.0x the peer's 4 ms — met",
        "target POST -> COMPLETED p50 at low load: 120 ms vs <= 100 ms — missed",
    ]


def test_the_item_targets_say_which_run_they_measured():
    runs = [{"items": 1000, "workers": w, "chunk_size": 100, "status": "COMPLETED", "items_per_second": rate, "own_items_per_second": rate,
             "requests_per_item": {}, "write_units_per_item": {}, "read_units_per_item": {}} for w, rate in ((1, 1000.0), (2, 1900.0))]
    lines = table({"drains": [], "submits": [], "steady": [], "batch": runs}).splitlines()
    assert lines[-3:] == [
        "target item job throughput: 1900 items/s (1000 items, 2 workers) vs >= 2000 items/s with 10,000 items and 2 workers"
        " (this run's item count or workers differ) — missed",
        "target item job 2 workers vs 1: 1.90x vs >= 1.8x — met",
        "target 1,000,000-line NDJSON file: not run by make bench vs accepted, completed, memory bounded — not measured",
    ]
