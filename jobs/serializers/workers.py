"""Response body of GET /workers: the worker processes with a heartbeat record, alive or stale."""

from rest_framework import serializers


class WorkerSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="host:pid of the worker's main process.")
    name = serializers.CharField(help_text="The Celery node name (-n).")
    host = serializers.CharField()
    pid = serializers.IntegerField()
    version = serializers.CharField(help_text="The BatchLab version the worker runs.")
    concurrency = serializers.IntegerField(help_text="Jobs it can run at once (prefork children).")
    alive = serializers.BooleanField(help_text="False once it missed a heartbeat (record older than two intervals).")
    started_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField()
    seconds_since_seen = serializers.FloatField()
    heartbeat_seconds = serializers.FloatField()
    running = serializers.ListField(child=serializers.CharField(), help_text="Ids of the jobs it runs now.")
    jobs_done = serializers.IntegerField(help_text="Jobs it finished since it started.")
    last_job_at = serializers.DateTimeField(allow_null=True, help_text="When it last took a job off the queue.")
    last_receive_at = serializers.DateTimeField(allow_null=True, help_text="Its last successful SQS receive (long poll).")
    receive_failures = serializers.IntegerField(help_text="Failed SQS receives since it started.")


class WorkerListSerializer(serializers.Serializer):
    alive = serializers.IntegerField()
    stale = serializers.IntegerField()
    results = WorkerSerializer(many=True)


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def worker_data(view) -> dict:
    """One selectors.WorkerView: WorkerSerializer."""
    r = view.record
    return {
        "id": r.worker_id, "name": r.name, "host": r.host, "pid": int(r.pid), "version": r.version,
        "concurrency": int(r.concurrency), "alive": view.alive, "started_at": _iso(r.started_at),
        "last_seen_at": _iso(r.last_seen_at), "seconds_since_seen": round(view.seconds_since_seen, 1),
        "heartbeat_seconds": float(r.heartbeat_seconds), "running": list(r.running or []),
        "jobs_done": int(r.jobs_done or 0), "last_job_at": _iso(r.last_job_at),
        "last_receive_at": _iso(r.last_receive_at), "receive_failures": int(r.receive_failures or 0),
    }


def worker_list_page(views) -> dict:
    """Every worker with its counts: WorkerListSerializer."""
    alive = sum(1 for v in views if v.alive)
    return {"alive": alive, "stale": len(views) - alive, "results": [worker_data(v) for v in views]}


EXAMPLE = {
    "alive": 1, "stale": 0,
    "results": [{
        "id": "ip-10-0-1-7:4121", "name": "worker1@ip-10-0-1-7", "host": "ip-10-0-1-7", "pid": 4121,
        "version": "0.1.0", "concurrency": 1, "alive": True, "started_at": "2026-11-26T04:00:00Z",
        "last_seen_at": "2026-11-26T05:00:10Z", "seconds_since_seen": 3.2, "heartbeat_seconds": 15.0,
        "running": ["7f3c2a1e-0b7d-4c36-9a55-2f0f3c1d9e11"], "jobs_done": 1250,
        "last_job_at": "2026-11-26T05:00:09Z", "last_receive_at": "2026-11-26T05:00:09Z", "receive_failures": 0,
    }],
}
