"""Schedules: the response shapes of /schedules (a summary in listings, the whole schedule with its runs and edits)."""

import time

from rest_framework import serializers

from jobs import timing
from jobs.items import ON_INVALID

OVERLAP_POLICIES = ("skip", "allow", "queue_one")


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _epoch_iso(epoch):
    return _iso(timing.to_datetime(epoch))


class ScheduleItemsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    invalid = serializers.IntegerField(help_text="Lines refused and kept as failed items (on_invalid=skip).")
    chunk_size = serializers.IntegerField()
    max_failed_ratio = serializers.FloatField()
    on_invalid = serializers.ChoiceField(choices=ON_INVALID)


class ScheduleRunSerializer(serializers.Serializer):
    due_at = serializers.DateTimeField()
    at = serializers.DateTimeField(help_text="When a scheduler acted on this due time.")
    outcome = serializers.ChoiceField(choices=["fired", "skipped", "held", "manual", "failed"],
                                      help_text="failed: its job could not be made (see message); the schedule went on.")
    missed = serializers.IntegerField(help_text="Due times missed while no scheduler ran, folded into this one.")
    message = serializers.CharField(allow_null=True)
    job_id = serializers.UUIDField(allow_null=True)
    job_url = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True, help_text="The job's status now (null once it expired).")
    duration_seconds = serializers.FloatField(allow_null=True)


class ScheduleEditSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    changes = serializers.JSONField(allow_null=True, help_text="{field: [old, new]} for an edit.")


class ScheduleWorkflowSerializer(serializers.Serializer):
    name = serializers.CharField()
    steps = serializers.IntegerField()


class ScheduleSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField(allow_null=True, help_text="The job type of every run (null: a workflow schedule).")
    owner = serializers.CharField()
    interval_seconds = serializers.IntegerField(allow_null=True)
    cron = serializers.CharField(allow_null=True)
    timezone = serializers.CharField()
    overlap = serializers.ChoiceField(choices=OVERLAP_POLICIES)
    paused = serializers.BooleanField()
    priority = serializers.CharField(allow_null=True, help_text="Its runs' priority (null: the type's default).")
    next_run_at = serializers.DateTimeField(allow_null=True)
    next_run_in_seconds = serializers.IntegerField(allow_null=True)
    last_run = ScheduleRunSerializer(allow_null=True)
    items = ScheduleItemsSerializer(allow_null=True, help_text="A schedule of an item type: its items (null: a payload job).")
    workflow = ScheduleWorkflowSerializer(allow_null=True, help_text="A schedule that fires a workflow: its name and "
                                          "steps (each run is a workflow; its runs' job_url is /workflows/{id}).")
    fired_count = serializers.IntegerField()
    skipped_count = serializers.IntegerField()
    missed_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class ScheduleSerializer(ScheduleSummarySerializer):
    payload = serializers.JSONField()
    runs = ScheduleRunSerializer(many=True, help_text="The last 50 runs, newest first.")
    success_rate = serializers.FloatField(allow_null=True, help_text="COMPLETED among the final runs listed.")
    history = ScheduleEditSerializer(many=True, help_text="The last 100 changes, newest first.")


class ScheduleListSerializer(serializers.Serializer):
    results = ScheduleSummarySerializer(many=True)


def _duration(job):
    # A workflow run (a workflow schedule's) counts from its creation.
    started = getattr(job, "started_at", None) or getattr(job, "created_at", None) if job is not None else None
    if started and job.finished_at:
        return round((job.finished_at - started).total_seconds(), 3)
    return None


def _run(run, jobs: dict, *, workflow: bool = False) -> dict:
    job = jobs.get(run.job_id) if run.job_id else None
    kind = "workflows" if workflow else "jobs"
    return {
        "due_at": _epoch_iso(run.due_at), "at": _iso(run.at), "outcome": run.outcome, "missed": int(run.missed or 0),
        "message": run.message, "job_id": run.job_id, "job_url": f"/{kind}/{run.job_id}" if run.job_id else None,
        "status": job.status if job is not None else None, "duration_seconds": _duration(job),
    }


def schedule_summary(view, *, now: float | None = None) -> dict:
    """A schedule in a listing: timing, policy, next run (and in how many seconds), last run, counters."""
    s, now = view.schedule, time.time() if now is None else now
    last = s.last_run
    return {
        "id": s.schedule_id, "url": f"/schedules/{s.schedule_id}", "name": s.name,
        "type": None if s.workflow_object else s.type, "owner": s.owner,
        "interval_seconds": int(s.interval_seconds) if s.interval_seconds else None, "cron": s.cron,
        "timezone": s.timezone, "overlap": s.overlap, "paused": bool(s.paused), "priority": s.priority,
        "next_run_at": None if s.paused else _epoch_iso(s.next_run_at),
        "next_run_in_seconds": None if s.paused or s.next_run_at is None else max(0, int(s.next_run_at - now)),
        "last_run": _run(last, view.jobs, workflow=bool(s.workflow_object)) if last else None,
        "items": None if not s.items_object else {
            "total": int(s.items_total or 0), "invalid": int(s.items_invalid or 0), "chunk_size": int(s.chunk_size or 0),
            "max_failed_ratio": float(1.0 if s.max_failed_ratio is None else s.max_failed_ratio),
            "on_invalid": s.on_invalid or "reject"},
        "workflow": None if not s.workflow_object else {"name": s.workflow_name, "steps": int(s.workflow_steps or 0)},
        "fired_count": int(s.fired_count or 0), "skipped_count": int(s.skipped_count or 0),
        "missed_count": int(s.missed_count or 0),
        "created_at": _iso(s.created_at), "updated_at": _iso(s.updated_at), "version": int(s.version or 0),
    }


def schedule_detail(view, *, now: float | None = None) -> dict:
    """Every field: payload, the last 50 runs (newest first, with their jobs' status), success rate, history."""
    data = schedule_summary(view, now=now)
    runs = [_run(r, view.jobs, workflow=bool(view.schedule.workflow_object)) for r in view.runs]
    final = [r for r in runs if r["status"] in ("COMPLETED", "FAILED", "CANCELED")]
    data.update(
        payload=view.schedule.payload,
        runs=runs,
        success_rate=round(sum(r["status"] == "COMPLETED" for r in final) / len(final), 3) if final else None,
        history=[{"at": _iso(e.at), "actor": e.actor, "action": e.action, "changes": e.changes}
                 for e in view.history],
    )
    return data
