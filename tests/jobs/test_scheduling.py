"""Schedules and delayed jobs against moto's in-process DynamoDB, with an injected clock (`now=`)."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from jobs import services, timing
from jobs.exceptions import JobStateConflict, ScheduleStateConflict
from jobs.services.schedules import scheduler
from jobs.tables import JOB_SK, Job
from jobs.tables.schedules import EDIT_PREFIX, RUN_PREFIX, Schedule, ScheduleLogEntry

pytestmark = pytest.mark.usefixtures("aws")


def make(**kw) -> Schedule:
    fields = dict(owner="alice", name="every minute", type="echo", payload={"n": 1}, interval_seconds=60)
    fields.update(kw)
    return services.schedule_create(**fields)


def fresh(schedule: Schedule) -> Schedule:
    return Schedule.get(schedule.schedule_id, consistent_read=True)


def runs(schedule: Schedule) -> list[ScheduleLogEntry]:
    """The schedule's runs as its log holds them, oldest first."""
    return list(ScheduleLogEntry.query(schedule.schedule_id, ScheduleLogEntry.sk.startswith(RUN_PREFIX), consistent_read=True))


def history(schedule: Schedule) -> list[ScheduleLogEntry]:
    return list(ScheduleLogEntry.query(schedule.schedule_id, ScheduleLogEntry.sk.startswith(EDIT_PREFIX), consistent_read=True))


def finish(job_id: str) -> None:
    Job(job_id).update(actions=[Job.status.set("COMPLETED")])


def test_two_schedulers_ticking_at_the_same_instant_fire_a_due_time_once(published):
    schedule = make()
    due = int(schedule.next_run_at)
    first = services.schedules_tick(now=due + 0.1)
    second = services.schedules_tick(now=due + 0.2)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    assert first.fired == [(schedule.schedule_id, due, job_id)] and second.fired == []
    assert published == [(job_id, 0)]
    job = Job.get(job_id, JOB_SK)
    assert job.status == "QUEUED" and job.schedule_id == schedule.schedule_id and job.due_at == due
    stored = fresh(schedule)
    assert stored.next_run_at == due + 60 and stored.pending_kind is None and stored.fired_count == 1
    assert [(r.due_at, r.outcome, r.job_id) for r in runs(schedule)] == [(due, "fired", job_id)]


def test_a_stale_read_of_the_schedule_cannot_fire_its_due_time_again(published):
    schedule = make()
    due = int(schedule.next_run_at)
    stale = fresh(schedule)
    services.schedules_tick(now=due)
    report = scheduler.TickReport()
    scheduler.schedule_fire_due(schedule=stale, now=due + 1, report=report)
    assert report.fired == [] and len(published) == 1


def test_after_downtime_a_schedule_fires_once_and_records_how_many_were_missed(published):
    schedule = make()
    due = int(schedule.next_run_at)
    report = services.schedules_tick(now=due + 60 * 5 + 10)
    assert len(report.fired) == 1 and report.fired[0][1] == due + 300
    stored = fresh(schedule)
    assert stored.missed_count == 5 and runs(schedule)[-1].missed == 5 and stored.next_run_at == due + 360


def test_skip_policy_skips_while_the_previous_run_is_not_final_and_records_it(published):
    schedule = make()
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    report = services.schedules_tick(now=due + 60)
    assert report.fired == [] and report.skipped == [(schedule.schedule_id, due + 60)]
    finish(published[0][0])
    assert len(services.schedules_tick(now=due + 120).fired) == 1
    stored = fresh(schedule)
    assert [r.outcome for r in runs(schedule)] == ["fired", "skipped", "fired"] and stored.skipped_count == 1


def test_queue_one_holds_one_due_time_until_the_previous_run_ends(published):
    schedule = make(overlap="queue_one")
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    services.schedules_tick(now=due + 60)  # held
    services.schedules_tick(now=due + 120)  # skipped: one is held already
    assert len(published) == 1
    finish(published[0][0])
    report = services.schedules_tick(now=due + 121)
    assert report.fired == [(schedule.schedule_id, due + 60, timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due + 60))]
    assert [r.outcome for r in runs(schedule)] == ["fired", "held", "skipped", "fired"]


def test_queue_one_runs_the_held_time_first_when_the_previous_run_ends_as_a_new_time_comes(published):
    schedule = make(overlap="queue_one")
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    services.schedules_tick(now=due + 60)  # held
    finish(published[0][0])
    first = services.schedules_tick(now=due + 120)  # the held run fires; the new due time waits a tick
    assert [f[1] for f in first.fired] == [due + 60]
    services.schedules_tick(now=due + 121)  # the new due time: the held run is going, so it is held in turn
    assert [(r.due_at, r.outcome) for r in runs(schedule)][-2:] == [(due + 60, "fired"), (due + 120, "held")]
    assert len(published) == 2


def test_allow_policy_overlaps(published):
    schedule = make(overlap="allow")
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    services.schedules_tick(now=due + 60)
    assert len(published) == 2


def test_a_firing_whose_scheduler_died_is_completed_by_another_once(published, settings):
    schedule = make()
    due = int(schedule.next_run_at)
    # The scheduler "dies" right after its conditional write: the job is never created.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduler, "_fault_point", lambda *a: (_ for _ in ()).throw(SystemExit("killed")))
        with pytest.raises(SystemExit):
            services.schedules_tick(now=due)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    assert fresh(schedule).pending_kind == "fire" and published == []
    settings.BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS = 5
    assert services.schedules_tick(now=due + 1).completed == []  # within the grace: the firer may be alive
    assert services.schedules_tick(now=due + 6).completed == [schedule.schedule_id]
    assert services.schedules_tick(now=due + 7).completed == []
    assert published == [(job_id, 0)] and Job.get(job_id, JOB_SK).status == "QUEUED"
    assert fresh(schedule).pending_kind is None


def test_pause_stops_firing_and_resume_counts_from_now(published):
    schedule = make()
    due = int(schedule.next_run_at)
    services.schedule_pause(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
    assert services.schedules_tick(now=due + 600).fired == []
    before = time.time()
    resumed = services.schedule_resume(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
    assert before + 60 - 1 <= resumed.next_run_at <= time.time() + 61
    assert [e.action for e in history(schedule)] == ["created", "paused", "resumed"]


def test_editing_the_interval_moves_the_next_run_and_is_recorded(published):
    schedule = make()
    edited = services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="bob",
                                      changes={"interval_seconds": 3600})
    assert edited.next_run_at >= time.time() + 3500
    last = history(schedule)[-1]
    assert last.actor == "bob" and last.changes == {"interval_seconds": [60, 3600]}


def test_cron_in_a_timezone_is_due_at_that_wall_clock_time():
    t = timing.Timing(cron="30 9 * * *", timezone="Europe/Paris")
    start = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc).timestamp()  # 14:00 in Paris
    nxt = timing.next_after(t, after=start)
    assert datetime.fromtimestamp(nxt, tz=timezone.utc) == datetime(2026, 7, 2, 7, 30, tzinfo=timezone.utc)
    assert not timing.cron_valid("61 * * * *") and not timing.cron_valid("* * * * * *")
    assert timing.timezone_valid("America/New_York") and not timing.timezone_valid("Mars/Olympus")


def test_run_now_respects_skip_while_a_run_is_going(published):
    schedule = make()
    job = services.schedule_run_now(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
    assert job.schedule_id == schedule.schedule_id and published == [(job.job_id, 0)]
    with pytest.raises(ScheduleStateConflict):
        services.schedule_run_now(schedule_id=schedule.schedule_id, owner="alice", actor="alice")


def test_a_job_far_ahead_is_scheduled_then_released_when_due(published):
    run_at = datetime.now(timezone.utc) + timedelta(minutes=20)
    job, _ = services.job_submit(owner="alice", name="later", type="echo", payload={}, run_at=run_at)
    assert Job.get(job.job_id, JOB_SK).status == "SCHEDULED" and published == []
    assert services.jobs_release_due(now=time.time()) == []
    assert services.jobs_release_due(now=run_at.timestamp() + 1) == [job.job_id]
    assert services.jobs_release_due(now=run_at.timestamp() + 2) == []
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "QUEUED" and stored.due_shard is None and published == [(job.job_id, 0)]


def test_a_job_a_few_minutes_ahead_is_queued_with_an_sqs_delay(published):
    job, _ = services.job_submit(owner="alice", name="soon", type="echo", payload={},
                                 run_at=datetime.now(timezone.utc) + timedelta(seconds=120))
    assert Job.get(job.job_id, JOB_SK).status == "QUEUED"
    assert published[0][0] == job.job_id and 115 <= published[0][1] <= 120


def test_a_scheduled_job_can_be_canceled_or_run_now(published):
    run_at = datetime.now(timezone.utc) + timedelta(hours=2)
    first, _ = services.job_submit(owner="alice", name="a", type="echo", payload={}, run_at=run_at)
    second, _ = services.job_submit(owner="alice", name="b", type="echo", payload={}, run_at=run_at)
    services.job_cancel(job_id=first.job_id, owner="alice", actor="alice")
    assert Job.get(first.job_id, JOB_SK).status == "CANCELED" and Job.get(first.job_id, JOB_SK).due_shard is None
    assert services.job_run_now(job_id=second.job_id, owner="alice", actor="alice").status == "QUEUED"
    assert published == [(second.job_id, 0)]
    with pytest.raises(JobStateConflict):
        services.job_run_now(job_id=first.job_id, owner="alice", actor="alice")
    assert services.jobs_release_due(now=run_at.timestamp() + 1) == []


def test_bulk_jobs_far_ahead_are_scheduled_and_near_ones_ride_an_sqs_delay(monkeypatch):
    from jobs.services import publishing
    from jobs.services.jobs import bulk

    sent, batched = [], []
    monkeypatch.setattr(publishing, "job_publish", lambda *, job_id, countdown=0, delay_seconds=0, **route: sent.append((job_id, delay_seconds)))
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: batched.extend(m[2] for m in messages))
    now = datetime.now(timezone.utc)
    specs = [bulk.BulkSpec(name="now", type="echo", payload={}),
             bulk.BulkSpec(name="soon", type="echo", payload={}, run_at=now + timedelta(seconds=60)),
             bulk.BulkSpec(name="later", type="echo", payload={}, run_at=now + timedelta(hours=3))]
    (first, _), (soon, _), (later, _) = bulk.jobs_submit_bulk(owner="alice", specs=specs)
    assert [first.status, soon.status, later.status] == ["QUEUED", "QUEUED", "SCHEDULED"]
    assert batched == [first.job_id] and sent[0][0] == soon.job_id and 55 <= sent[0][1] <= 60
    assert services.jobs_release_due(now=(now + timedelta(hours=3, seconds=1)).timestamp()) == [later.job_id]


@pytest.mark.parametrize("edit", ["update", "items", "pause", "resume", "run_now"])
def test_an_edit_is_not_refused_because_a_scheduler_fired_between_its_read_and_its_write(published, monkeypatch, edit):
    """A schedule firing every few seconds moves its version at each run; an edit reads it again (CI saw the 409)."""
    from jobs.services.schedules import actions

    schedule = make(paused=True) if edit == "resume" else make(overlap="allow")
    read = actions.schedule_get_visible
    reads = []

    def read_then_a_tick(**kw):
        found = read(**kw)
        if not reads:  # the first read only: a run fired (its claim moves the version) before this edit writes
            Schedule(schedule.schedule_id).update(actions=[Schedule.version.add(1), Schedule.fired_count.add(1)])
        reads.append(found.version)
        return found

    monkeypatch.setattr(actions, "schedule_get_visible", read_then_a_tick)
    if edit == "update":
        done = services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="alice", changes={"name": "renamed"})
        assert fresh(schedule).name == "renamed" and done.name == "renamed"
    elif edit == "items":
        done = services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="alice",
                                        changes={"type": "checksum", "payload": {}, "items": ["a", "b"]})
        assert fresh(schedule).items_total == 2
    elif edit == "pause":
        services.schedule_pause(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
        assert fresh(schedule).paused
    elif edit == "resume":
        services.schedule_resume(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
        assert not fresh(schedule).paused
    else:
        job = services.schedule_run_now(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
        assert fresh(schedule).last_job_id == job.job_id
    stored = fresh(schedule)
    assert reads == [schedule.version, schedule.version + 1]  # the first read lost to the tick, the second was written
    assert stored.version == schedule.version + 2 and stored.fired_count == (2 if edit == "run_now" else 1)
    assert [e.action for e in history(schedule)][-1] == {"update": "edited", "items": "edited", "pause": "paused", "resume": "resumed"}.get(edit, edit)


def test_an_edit_that_loses_every_attempt_is_a_409_and_its_new_items_are_deleted(published, monkeypatch):
    from jobs.services.schedules import actions, items

    schedule = make()
    read = actions.schedule_get_visible
    stored_keys = []
    store = items.schedule_items_store

    def read_then_a_tick(**kw):
        found = read(**kw)
        Schedule(schedule.schedule_id).update(actions=[Schedule.version.add(1)])  # a tick before every write
        return found

    def store_and_remember(**kw):
        out = store(**kw)
        stored_keys.append(out.items_object)
        return out

    monkeypatch.setattr(actions, "schedule_get_visible", read_then_a_tick)
    monkeypatch.setattr(items, "schedule_items_store", store_and_remember)
    with pytest.raises(ScheduleStateConflict):
        services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="alice",
                                 changes={"type": "checksum", "payload": {}, "items": ["a", "b"]})
    assert len(stored_keys) == 1  # uploaded once for all five attempts
    assert fresh(schedule).items_object is None and fresh(schedule).version == schedule.version + actions.EDIT_ATTEMPTS
    from botocore.exceptions import ClientError

    from jobs import objects
    with pytest.raises(ClientError, match="NoSuchKey|404|Not Found"):
        objects.object_read_range(key=stored_keys[0], offset=0, length=1)  # the items no write took are deleted
