"""The benchmark's pure helpers: percentiles, timestamps, CPU per process tree, the bill."""

from devstack.bench_measure import group_cpu_ticks, parse_time, percentile
from devstack.bench_report import cost_per_million


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
