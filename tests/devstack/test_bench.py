"""The benchmark's pure helpers: percentiles, moto log request counting, timestamps, idle gaps."""

from devstack.bench_measure import count_request_lines, group_cpu_ticks, idle_gap_seconds, parse_time, percentile

MOTO_LOG = (
    "\x1b[31m\x1b[1mWARNING: This is a development server. Do not use it in a production deployment.\x1b[0m\n"
    " * Running on http://127.0.0.1:5100\n"
    "\x1b[33mPress CTRL+C to quit\x1b[0m\n"
    '127.0.0.1 - - [23/Nov/2026 16:51:45] "POST / HTTP/1.1" 200 -\n'
    '127.0.0.1 - - [23/Nov/2026 16:51:45] "\x1b[31m\x1b[1mPOST / HTTP/1.1\x1b[0m" 400 -\n'
    '127.0.0.1 - - [23/Nov/2026 16:51:46] "GET /moto-api/ HTTP/1.1" 200 -\n'
    "Traceback (most recent call last):\n"
    '  File "x.py", line 1, in <module>\n'
    'a message that mentions "POST / HTTP/1.1" 200 in passing\n'
)


def test_percentile_interpolates_between_ranks():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 100
    assert percentile([3, 1, 2], 50) == 2


def test_percentile_of_one_value_is_that_value_and_of_none_is_none():
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None


def test_count_request_lines_counts_access_lines_only_even_when_colored():
    assert count_request_lines(MOTO_LOG) == 3
    assert count_request_lines("") == 0


def test_count_request_lines_of_a_log_tail_counts_only_new_lines():
    before = count_request_lines(MOTO_LOG)
    grown = MOTO_LOG + '127.0.0.1 - - [23/Nov/2026 16:52:05] "POST / HTTP/1.1" 200 -\n' * 4
    assert count_request_lines(grown) - before == 4


def test_parse_time_reads_the_api_timestamps():
    assert parse_time("1970-01-01T00:00:01.500000Z") == 1.5
    assert parse_time(None) is None


def test_idle_gaps_are_the_uncovered_parts_of_the_window():
    busy = [(2, 5), (4, 8), (30, 35)]
    assert idle_gap_seconds(busy, 0, 40) == [2, 22, 5]
    assert idle_gap_seconds([], 0, 10) == [10]
    assert idle_gap_seconds([(-5, 50)], 0, 10) == []


def test_group_cpu_ticks_follows_descendants_and_not_other_trees():
    table = {1: (0, 10, 100), 2: (1, 11, 5), 3: (2, 12, 7), 4: (0, 13, 50)}
    assert group_cpu_ticks(table, [1]) == {(1, 10): 100, (2, 11): 5, (3, 12): 7}
    assert group_cpu_ticks(table, [99]) == {}
