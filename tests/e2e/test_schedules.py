"""Schedules and delayed jobs on the real stack: two `manage.py batchlab_scheduler` processes, a celery worker, gunicorn.

Intervals are seconds here (BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS=1), not the behaviour:
the same conditional writes decide which scheduler fires a due time.
"""

import re
import statistics
import time
from datetime import datetime

import pytest

from tests.e2e.conftest import Api, dump_logs
from tests.e2e.helpers import wait_until

GRACE = 3  # BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS on this stack


@pytest.fixture(scope="module")
def sched_stack(make_stack):
    return make_stack(workers=1, schedulers=2, BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS=1,
                      BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS=GRACE, BATCHLAB_METRICS_CACHE_SECONDS=0)


@pytest.fixture(scope="module")
def api(sched_stack) -> Api:
    return Api(sched_stack.web_url, "demo")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def create(api: Api, **fields) -> dict:
    body = {"name": "every 2 s", "type": "echo", "payload": {"hello": "world"}, "interval_seconds": 2}
    body.update(fields)
    response = api.post("/schedules", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def detail(api: Api, schedule_id: str) -> dict:
    response = api.get(f"/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return response.json()


def jobs_of(api: Api, schedule_id: str) -> list[dict]:
    """Every job of the user fired by this schedule (the listing, not the schedule's own record)."""
    found, cursor = [], None
    while True:
        page = api.get("/jobs?limit=100" + (f"&cursor={cursor}" if cursor else "")).json()
        found += [j for j in page["results"] if j["schedule_id"] == schedule_id]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def fired(schedule: dict) -> list[dict]:
    return sorted((r for r in schedule["runs"] if r["outcome"] == "fired"), key=lambda r: r["due_at"])


def test_two_schedulers_fire_each_due_time_once_with_no_gaps(api, sched_stack):
    schedule = create(api, overlap="allow")
    time.sleep(21)
    api.post(f"/schedules/{schedule['id']}/pause")
    runs = fired(wait_until(lambda: (d := detail(api, schedule["id"])) and all(r["status"] for r in fired(d)) and d,
                            timeout=30, what="every fired run has its job"))
    dues = [ts(r["due_at"]) for r in runs]
    assert len(runs) >= 9, runs
    assert [b - a for a, b in zip(dues, dues[1:])] == [2] * (len(dues) - 1), dues  # consecutive: no gap, no repeat
    jobs = jobs_of(api, schedule["id"])
    assert len(jobs) == len(runs) and len({j["id"] for j in jobs}) == len(jobs)  # one job per due time
    assert sorted(ts(j["run_at"]) for j in jobs) == dues
    wait_until(lambda: all(api.get(f"/jobs/{j['id']}").json()["status"] == "COMPLETED" for j in jobs), timeout=60,
               what="every fired job completes")
    jitter = sorted(ts(j["created_at"]) - ts(j["run_at"]) for j in jobs)
    print(f"\nfiring jitter with two schedulers (due time -> job created): p50 {statistics.median(jitter) * 1000:.0f} ms,"
          f" max {max(jitter) * 1000:.0f} ms over {len(jitter)} runs")
    assert all(j >= 0 for j in jitter)  # never early
    both = [n for n in ("scheduler1", "scheduler2") if "fired due" in (sched_stack.log_dir / f"{n}.log").read_text()]
    print(f"schedulers that fired: {both}")
    api.session.delete(api.url(f"/schedules/{schedule['id']}"))


def test_a_scheduler_killed_between_claim_and_job_creation_loses_no_run_and_doubles_none(api, sched_stack):
    # Only the faulty scheduler runs: it claims the first due time, then sleeps at the fault point.
    sched_stack.stop_process("scheduler1")
    sched_stack.stop_process("scheduler2")
    sched_stack.start_scheduler("faulty", env={"BATCHLAB_SCHEDULER_FAULT": "sleep:120"})
    schedule = create(api, name="killed mid-fire")
    log = sched_stack.log_dir / "faulty.log"
    line = wait_until(lambda: re.search(r"fault point after claim: schedule (\S+) due (\d+)", log.read_text()),
                      timeout=30, what="the faulty scheduler claims a due time")
    assert line.group(1) == schedule["id"]
    due = int(line.group(2))
    assert jobs_of(api, schedule["id"]) == []  # claimed, no job yet
    sched_stack.kill_process("faulty")  # kill -9
    sched_stack.start_scheduler("scheduler1")  # the restarted one
    sched_stack.start_scheduler("scheduler2")
    wait_until(lambda: any(ts(j["run_at"]) == due for j in jobs_of(api, schedule["id"])), timeout=30,
               what="the killed scheduler's run gets its job")
    time.sleep(4)
    api.post(f"/schedules/{schedule['id']}/pause")
    time.sleep(1)
    jobs = jobs_of(api, schedule["id"])
    dues = sorted(ts(j["run_at"]) for j in jobs)
    assert dues.count(due) == 1 and len(set(dues)) == len(dues), dues
    assert [ts(r["due_at"]) for r in fired(detail(api, schedule["id"]))] == dues
    assert "completing the firing of due" in "".join(
        (sched_stack.log_dir / f"{n}.log").read_text() for n in ("scheduler1", "scheduler2"))
    api.session.delete(api.url(f"/schedules/{schedule['id']}"))


def test_pause_resume_and_edit_take_effect_without_a_restart(api):
    schedule = create(api, name="pause me")
    wait_until(lambda: detail(api, schedule["id"])["fired_count"] >= 1, timeout=15, what="a first run")
    paused = api.post(f"/schedules/{schedule['id']}/pause").json()
    assert paused["paused"] and paused["next_run_at"] is None
    count = paused["fired_count"]
    time.sleep(5)
    assert detail(api, schedule["id"])["fired_count"] == count  # paused: no runs
    before = time.time()
    resumed = api.post(f"/schedules/{schedule['id']}/resume").json()
    assert before + 1 <= ts(resumed["next_run_at"]) <= time.time() + 3  # counted from now
    wait_until(lambda: detail(api, schedule["id"])["fired_count"] > count, timeout=15, what="a run after resume")
    edited = api.session.patch(api.url(f"/schedules/{schedule['id']}"), json={"interval_seconds": 3600}, timeout=30).json()
    assert ts(edited["next_run_at"]) >= time.time() + 3500
    count = edited["fired_count"]
    time.sleep(4)
    after = detail(api, schedule["id"])
    assert after["fired_count"] == count
    assert [h["action"] for h in after["history"]][:3] == ["edited", "resumed", "paused"]
    assert after["history"][0]["changes"] == {"interval_seconds": [2, 3600]} and after["history"][0]["actor"] == "demo"
    api.session.delete(api.url(f"/schedules/{schedule['id']}"))


def test_skip_policy_never_overlaps_a_5_s_job_on_a_2_s_schedule(api):
    schedule = create(api, name="slow", type="sleep", payload={"seconds": 5}, overlap="skip")
    wait_until(lambda: (d := detail(api, schedule["id"]))["skipped_count"] >= 3 and d["fired_count"] >= 2, timeout=60,
               what="skipped runs and a second run")
    api.post(f"/schedules/{schedule['id']}/pause")
    final = wait_until(lambda: (d := detail(api, schedule["id"])) and all(
        r["status"] in ("COMPLETED", "FAILED") for r in fired(d)) and d, timeout=30, what="fired runs finish")
    skipped = [r for r in final["runs"] if r["outcome"] == "skipped"]
    assert skipped and all("still going" in r["message"] for r in skipped)
    spans = sorted((ts(j["started_at"]), ts(j["finished_at"])) for j in jobs_of(api, schedule["id"]))
    assert len(spans) >= 2 and all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans
    metrics = api.get("/metrics").text
    runs = {m.group(1): float(m.group(2)) for m in re.finditer(r'^batchlab_schedule_runs\{outcome="(\w+)"\} (\S+)$', metrics, re.M)}
    assert runs["skipped"] >= len(skipped) and runs["fired"] >= len(spans), runs
    assert re.search(r'^batchlab_schedules\{state="paused"\} [1-9]', metrics, re.M)
    api.session.delete(api.url(f"/schedules/{schedule['id']}"))


def test_a_job_delayed_20_minutes_is_scheduled_then_published_when_due_and_completes(api, sched_stack):
    response = api.post("/jobs", json={"name": "in 20 min", "type": "echo", "payload": {"x": 1}, "delay_seconds": 1200})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "SCHEDULED" and abs(ts(job["run_at"]) - time.time() - 1200) < 30
    time.sleep(2)
    assert api.get(f"/jobs/{job['id']}").json()["status"] == "SCHEDULED"  # the schedulers leave it
    # A scheduler whose clock runs 20 minutes ahead finds it due (the injected clock, not the behaviour).
    sched_stack.manage("batchlab_scheduler", "--once", "--clock-offset", "1201")
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED" and done["result"] == {"x": 1}
    assert [e["event"] for e in done["timeline"]][:2] == ["submitted", "release_due"]


def test_an_item_job_delayed_20_minutes_is_scheduled_then_its_chunks_run_when_due(api, sched_stack):
    body = {"name": "items in 20 min", "type": "checksum", "items": [f"line {i}" for i in range(25)], "chunk_size": 10,
            "delay_seconds": 1200}
    response = api.post("/jobs", json=body)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "SCHEDULED" and job["items"]["chunks_total"] == 3
    time.sleep(2)
    assert api.get(f"/jobs/{job['id']}").json()["status"] == "SCHEDULED"  # no chunk ran
    sched_stack.manage("batchlab_scheduler", "--once", "--clock-offset", "1201")
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED" and done["items"]["succeeded"] == 25, done
    assert [e["event"] for e in done["timeline"]][:2] == ["submitted", "release_due"]


def test_a_schedule_of_items_fires_item_jobs_over_its_items_and_takes_new_items_without_a_restart(api):
    schedule = create(api, name="items every 2 s", type="checksum", payload={}, items=["a", "b", "c"], chunk_size=2)
    assert schedule["items"]["total"] == 3
    wait_until(lambda: len(fired(detail(api, schedule["id"]))) >= 1, timeout=30, what="the first run of the item schedule")
    first = api.wait(fired(detail(api, schedule["id"]))[0]["job_id"], timeout=60)
    assert first["status"] == "COMPLETED" and first["items"]["succeeded"] == 3 and first["schedule_id"] == schedule["id"]
    results = api.get(f"/jobs/{first['id']}/results").text.splitlines()
    assert len(results) == 3
    replaced = api.session.put(api.url(f"/schedules/{schedule['id']}/items"), timeout=30,
                               files={"file": ("new.ndjson", b'"x"\n"y"\n"z"\n"w"\n"v"\n')})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["items"]["total"] == 5
    edited_at = time.time()

    def a_run_of_five():
        runs = [r for r in fired(detail(api, schedule["id"])) if ts(r["due_at"]) > edited_at + 1]
        if not runs:
            return False
        job = api.get(f"/jobs/{runs[0]['job_id']}")  # a run is recorded (claimed) before its job is written: 404 until then
        return job.status_code == 200 and job.json()["items"]["total"] == 5

    wait_until(a_run_of_five, timeout=30, what="a run over the new items")
    assert api.session.delete(api.url(f"/schedules/{schedule['id']}"), timeout=30).status_code == 204
    assert api.get(f"/jobs/{first['id']}/results").status_code == 200  # a run keeps its own copy of the items


def test_a_schedule_fires_a_workflow_each_due_time_and_each_run_completes(api, capsys, tmp_path):
    import json

    from jobs.cli import main

    flow = tmp_path / "nightly.json"
    flow.write_text(json.dumps({"name": "nightly", "steps": {
        "extract": {"type": "echo", "payload": {"n": 1}},
        "score": {"type": "checksum", "items": ["a", "b", "c"], "chunk_size": 2, "needs": ["extract"]},
        "report": {"type": "collect", "needs": ["extract", "score"]}}}))
    assert main(["--base-url", api.base, "--json", "schedules", "create", "--workflow", str(flow), "--every", "2"]) == 0
    schedule = json.loads(capsys.readouterr().out)
    assert schedule["workflow"] == {"name": "nightly", "steps": 3} and schedule["type"] is None

    def two_runs_done():
        runs = [r for r in fired(detail(api, schedule["id"])) if r["status"] in ("COMPLETED", "FAILED", "CANCELED")]
        return runs if len(runs) >= 2 else None

    runs = wait_until(two_runs_done, timeout=90, what="two workflow runs of the schedule ended")
    assert all(r["status"] == "COMPLETED" and r["job_url"] == f"/workflows/{r['job_id']}" for r in runs), runs
    workflow = api.get(runs[0]["job_url"]).json()
    assert workflow["schedule_id"] == schedule["id"] and workflow["status"] == "COMPLETED"
    report = api.get(f"/jobs/{next(s['job_id'] for s in workflow['steps'] if s['name'] == 'report')}").json()
    assert report["result"]["parents"]["score"]["items"]["succeeded"] == 3
    due = [ts(r["due_at"]) for r in fired(detail(api, schedule["id"]))]
    assert len(due) == len(set(due))  # one workflow per due time
    assert api.session.delete(api.url(f"/schedules/{schedule['id']}"), timeout=30).status_code == 204


def test_a_few_seconds_delay_rides_on_the_sqs_message(api):
    job = api.post("/jobs", json={"name": "in 3 s", "type": "echo", "payload": {}, "delay_seconds": 3}).json()
    assert job["status"] == "QUEUED"
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED" and ts(done["started_at"]) >= ts(job["run_at"]) - 1


def test_a_scheduled_job_can_be_canceled_or_run_now(api):
    later = {"name": "later", "type": "echo", "payload": {}, "run_at": "2099-01-01T00:00:00Z"}
    assert api.post("/jobs", json=later).status_code == 400  # past the retention period
    first = api.post("/jobs", json={"name": "later", "type": "echo", "payload": {}, "delay_seconds": 7200}).json()
    second = api.post("/jobs", json={"name": "later", "type": "echo", "payload": {}, "delay_seconds": 7200}).json()
    assert api.post(f"/jobs/{first['id']}/cancel").json()["status"] == "CANCELED"
    assert api.post(f"/jobs/{second['id']}/run-now").status_code == 202
    assert api.wait(second["id"], timeout=60)["status"] == "COMPLETED"
    conflict = api.post(f"/jobs/{first['id']}/run-now")
    assert conflict.status_code == 409 and conflict.json()["code"] == "job_state_conflict"


BAD = [
    ("bad cron", "/schedules", {"name": "x", "type": "echo", "cron": "61 * * * *"}, {"cron"}),
    ("interval out of range", "/schedules", {"name": "x", "type": "echo", "interval_seconds": 90000}, {"interval_seconds"}),
    ("unknown timezone", "/schedules", {"name": "x", "type": "echo", "cron": "0 9 * * *", "timezone": "Mars/Base"}, {"timezone"}),
    ("unknown type", "/schedules", {"name": "x", "type": "nope", "interval_seconds": 60}, {"type"}),
    ("bad payload", "/schedules", {"name": "x", "type": "sleep", "payload": {"seconds": -1}, "interval_seconds": 60},
     {"payload.seconds"}),
    ("neither interval nor cron", "/schedules", {"name": "x", "type": "echo"}, {"interval_seconds", "cron"}),
    ("every field bad at once", "/schedules",
     {"name": 5, "type": "nope", "cron": "bad", "timezone": "Nowhere/X", "overlap": "sometimes", "color": "red"},
     {"name", "type", "cron", "timezone", "overlap", "color"}),
    ("field errors and a bad payload together", "/schedules",
     {"name": "x", "type": "sleep", "payload": {"seconds": -1}, "interval_seconds": 0, "timezone": "Nowhere/X"},
     {"payload.seconds", "interval_seconds", "timezone"}),
    ("run_at in the past", "/jobs", {"name": "x", "type": "echo", "run_at": "2001-01-01T00:00:00Z"}, {"run_at"}),
    ("run_at past retention", "/jobs", {"name": "x", "type": "echo", "run_at": "2099-01-01T00:00:00Z"}, {"run_at"}),
    ("run_at and delay", "/jobs", {"name": "x", "type": "echo", "run_at": "2099-01-01T00:00:00Z", "delay_seconds": 5},
     {"run_at", "delay_seconds"}),
    ("negative delay", "/jobs", {"name": "x", "type": "echo", "delay_seconds": -5}, {"delay_seconds"}),
    ("item-only type without items", "/schedules", {"name": "x", "type": "transform", "interval_seconds": 60}, {"items"}),
    ("items for a payload type", "/schedules", {"name": "x", "type": "echo", "interval_seconds": 60, "items": [1]},
     {"items"}),
    ("item options without items", "/schedules",
     {"name": "x", "type": "echo", "interval_seconds": 60, "chunk_size": 5, "on_invalid": "skip"}, {"chunk_size", "on_invalid"}),
    ("item job in the past", "/jobs", {"name": "x", "type": "checksum", "items": ["a"], "run_at": "2001-01-01T00:00:00Z"},
     {"run_at"}),
    ("bulk job in the past", "/jobs/bulk", {"jobs": [{"name": "ok", "type": "echo"},
                                                     {"name": "x", "type": "echo", "run_at": "2001-01-01T00:00:00Z"}]},
     {"jobs[1].run_at"}),
]


@pytest.mark.parametrize("case,path,body,fields", BAD, ids=[c[0] for c in BAD])
def test_bad_schedule_and_delay_input_is_a_400_problem_listing_every_field(api, case, path, body, fields):
    response = api.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "validation_error" and set(problem["errors"]) == fields, problem


def test_a_schedule_with_a_bad_item_is_refused_by_line_and_nothing_is_stored(api):
    before = len(api.get("/schedules").json()["results"])
    response = api.post("/schedules", json={"name": "x", "type": "checksum", "interval_seconds": 60, "items": ["ok", 7, "ok"]})
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_items" and problem["errors"]["items"][0].startswith("line 2:"), problem
    assert len(api.get("/schedules").json()["results"]) == before


def test_unknown_schedule_is_a_404_problem(api):
    for path in ("/schedules/not-an-id", "/schedules/00000000-0000-4000-8000-000000000000"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["code"] == "schedule_not_found"


def test_the_cli_creates_edits_pauses_runs_and_deletes_a_schedule(api, capsys):
    import json

    from jobs.cli import main

    base = ["--base-url", api.base, "--json"]
    assert main([*base, "schedules", "create", "echo", '{"from": "cli"}', "--cron", "0 9 * * 1-5",
                 "--timezone", "Europe/Paris", "--name", "weekday mornings"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["cron"] == "0 9 * * 1-5" and created["timezone"] == "Europe/Paris" and created["payload"] == {"from": "cli"}
    assert main([*base, "schedules", "edit", created["id"], "--every", "3600"]) == 0
    edited = json.loads(capsys.readouterr().out)
    assert edited["interval_seconds"] == 3600 and edited["cron"] is None
    assert main([*base, "schedules", "pause", created["id"]]) == 0 and json.loads(capsys.readouterr().out)["paused"]
    assert main([*base, "schedules", "run", created["id"]]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["schedule_id"] == created["id"] and api.wait(job["id"])["status"] == "COMPLETED"
    assert main([*base, "schedules", "list"]) == 0
    assert created["id"] in [s["id"] for s in json.loads(capsys.readouterr().out)["results"]]
    assert main(["--base-url", api.base, "schedules", "create", "echo", "--cron", "every day"]) == 1
    assert "cron" in capsys.readouterr().err  # the field is named
    assert main([*base, "schedules", "delete", created["id"]]) == 0
    assert main([*base, "schedules", "show", created["id"]]) == 1


def test_the_cli_creates_an_item_schedule_from_a_file_runs_it_and_replaces_its_items(api, capsys, tmp_path, monkeypatch):
    import json

    from jobs.cli import main

    monkeypatch.setenv("COLUMNS", "250")
    items = tmp_path / "items.ndjson"
    items.write_text("".join(f'"line {i}"\n' for i in range(25)))
    base = ["--base-url", api.base]
    assert main([*base, "schedules", "create", "checksum", "--every", "3600", "--items-file", str(items),
                 "--chunk-size", "10", "--name", "hourly checksums"]) == 0
    out = capsys.readouterr().out
    assert "25 items · chunks of 10" in out
    schedule_id = out.split()[0]
    assert main([*base, "--json", "schedules", "run", schedule_id]) == 0
    job = json.loads(capsys.readouterr().out)
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED" and done["items"]["succeeded"] == 25 and done["items"]["chunks_total"] == 3, done
    items.write_text('"x"\n"y"\n"z"\n')
    assert main([*base, "--json", "schedules", "edit", schedule_id, "--items-file", str(items), "--chunk-size", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == {"total": 3, "invalid": 0, "chunk_size": 2,
                                                           "max_failed_ratio": 1.0, "on_invalid": "reject"}
    assert main([*base, "schedules", "list"]) == 0
    assert "3 items · chunks of 2" in capsys.readouterr().out
    items.write_text('"ok"\n7\n')
    assert main([*base, "schedules", "edit", schedule_id, "--items-file", str(items)]) == 1
    assert "line 2" in capsys.readouterr().err  # the bad line is named; the items stay
    assert main([*base, "schedules", "delete", schedule_id]) == 0
