"""The JSON document of a job, as GET /jobs/{id} shows it: built by plain functions, for the API, the pages and webhook events; pure, no I/O.

jobs.serializers describes the same shapes for the OpenAPI document (JobSerializer,
JobSummarySerializer, ItemProgressSerializer); tests/jobs/test_api_schema.py checks
that both have the same fields.
"""

import time
from datetime import datetime, timezone


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _rate_and_eta(job) -> tuple[float | None, float | None]:
    if not job.started_at:
        return None, None
    end = job.finished_at.timestamp() if job.finished_at else time.time()
    elapsed = max(end - job.started_at.timestamp(), 1e-3)
    done = int(job.items_succeeded or 0) + int(job.items_failed or 0) + int(job.items_skipped or 0)
    rate = done / elapsed
    remaining = max(int(job.items_total or 0) - done, 0)
    eta = 0.0 if job.finished_at or not remaining else (round(remaining / rate, 1) if rate > 0 else None)
    return round(rate, 1), eta


def item_progress(job) -> dict | None:
    """An item job's counts, chunks, items per second and time left (None for a plain job)."""
    if job.chunks_total is None:
        return None
    rate, eta = _rate_and_eta(job)
    return {
        "total": int(job.items_total or 0),
        "succeeded": int(job.items_succeeded or 0),
        "failed": int(job.items_failed or 0),
        "skipped": int(job.items_skipped or 0),
        "chunks_done": int(job.chunks_done or 0),
        "chunks_total": int(job.chunks_total or 0),
        "chunk_size": int(job.chunk_size or 0),
        "max_failed_ratio": float(job.max_failed_ratio if job.max_failed_ratio is not None else 1.0),
        "items_per_second": rate,
        "eta_seconds": eta,
        "from_file": bool(job.items_object),
    }


def job_summary(job) -> dict:
    """The fields of a job in a listing (no payload, result or timeline): JobSummarySerializer."""
    duration = None
    waiting = job.status == "QUEUED" and bool(job.waiting_for)
    if job.started_at and job.finished_at:
        duration = round((job.finished_at - job.started_at).total_seconds(), 3)
    return {
        "id": job.job_id,
        "url": f"/jobs/{job.job_id}",
        "name": job.name,
        "type": job.type,
        "status": job.status,
        "owner": job.owner,
        "attempts": int(job.attempts or 0),
        "max_attempts": int(job.max_attempts or 0),
        "progress": {"done": int(job.progress_done or 0), "total": int(job.progress_total or 0)},
        "cancel_requested": bool(job.cancel_requested),
        "error": dict(job.error.as_dict()) if job.error else None,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "duration_seconds": duration,
        "version": int(job.version or 0),
        "run_at": iso(datetime.fromtimestamp(float(job.due_at), tz=timezone.utc)) if job.due_at else None,
        "schedule_id": job.schedule_id,
        "schedule_url": f"/schedules/{job.schedule_id}" if job.schedule_id else None,
        "items": item_progress(job),
        "priority": job.priority or "normal",
        "concurrency_key": job.concurrency_key,
        "waiting_for": job.waiting_for if waiting else None,
        "waiting_since": iso(job.waiting_since) if waiting else None,
        "workflow_id": job.workflow_id,
        "step": job.step_name,
    }


def job_event_data(job) -> dict:
    """A webhook event's `data`: the job as GET /jobs/{id} shows it, without the timeline."""
    data = job_detail(job)
    del data["timeline"]
    return data


def job_detail(job, *, workflow: dict | None = None) -> dict:
    """Every field of a job, with its payload, result and timeline: JobSerializer (`workflow`: a step's relations,
    jobs.selectors.step_relations)."""
    data = job_summary(job)
    data.update(
        payload=job.payload,
        result=job.result,
        expires_at=iso(job.expires_at),
        timeline=[
            {
                "at": iso(e.at),
                "event": e.event,
                "status": e.status,
                "message": e.message,
                "worker": e.worker,
            }
            for e in (job.timeline or [])
        ],
    )
    data["workflow"] = workflow
    return data


def schedule_run_data(*, job: dict | None = None, schedule_id: str | None = None, schedule_name: str | None = None,
                      due_at: float | None = None, message: str | None = None) -> dict:
    """schedule.run_failed's `data`: the schedule, the run's due time, why it failed, and its job (as job_event_data; None: none was made)."""
    if job is not None:
        return {
            "schedule_id": job["schedule_id"], "schedule_url": job["schedule_url"], "schedule_name": job["name"],
            "due_at": job["run_at"], "reason": "job_failed", "message": (job["error"] or {}).get("message"), "job": job,
        }
    return {
        "schedule_id": schedule_id, "schedule_url": f"/schedules/{schedule_id}", "schedule_name": schedule_name,
        "due_at": iso(datetime.fromtimestamp(float(due_at), tz=timezone.utc)) if due_at else None, "reason": "not_fired",
        "message": message, "job": None,
    }


def workflow_event_data(header, *, status: str, finished_at) -> dict:
    """workflow.*'s `data`: the workflow as GET /workflows lists it, with the status and end its last write gives it."""
    return {
        "id": header.workflow_id, "url": f"/workflows/{header.workflow_id}", "name": header.name, "status": str(status),
        "owner": header.owner or header.submitter or "", "steps_total": int(header.steps_total or 0),
        "runs": int(header.runs or 1), "created_at": iso(header.created_at), "finished_at": iso(finished_at),
        "schedule_id": header.schedule_id,
    }
