"""Response bodies: a job (with its workflow's step, if any), a job summary, a list page, the job types, dead letters, a redrive.

Each shape is written twice, side by side: a serializer that describes it in the
OpenAPI document, and a plain function that builds it. The page polls a job
every 5 s per user; building the dict directly costs a few microseconds where
rendering through the serializer's fields costs ~20x more, so the serializers are
used for the schema only. tests/jobs/test_api_schema.py checks that both have
the same fields.
"""

from rest_framework import serializers

from jobs.documents import job_detail, job_summary  # noqa: F401  (re-exported: the views import them from here)
from jobs.serializers.flow import TypeLimitsSerializer, limits_shape
from jobs.serializers.items import ItemProgressSerializer
from jobs.states import JobStatus


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    event = serializers.CharField()
    status = serializers.CharField(allow_null=True, help_text="The status this event moved the job to, if any.")
    message = serializers.CharField(allow_null=True)
    worker = serializers.CharField(allow_null=True)


class JobSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField(help_text="This job's path: /jobs/{id}.")
    name = serializers.CharField()
    type = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in JobStatus])
    owner = serializers.CharField()
    attempts = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    progress = ProgressSerializer()
    cancel_requested = serializers.BooleanField()
    error = JobErrorSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    version = serializers.IntegerField(help_text="Incremented by every write; also the ETag of GET /jobs/{id}.")
    run_at = serializers.DateTimeField(allow_null=True, help_text="When a delayed or scheduled job is (was) due.")
    schedule_id = serializers.UUIDField(allow_null=True, help_text="The schedule that fired this job, if any.")
    schedule_url = serializers.CharField(allow_null=True, help_text="That schedule's path: /schedules/{id}.")
    items = ItemProgressSerializer(allow_null=True, help_text="An item job's counts, chunks, items/s and time left; null otherwise.")
    priority = serializers.ChoiceField(choices=["high", "normal", "low"], help_text="Its queue.")
    concurrency_key = serializers.CharField(allow_null=True, help_text="What its type's key limits count it under (null: its owner).")
    waiting_for = serializers.ChoiceField(
        choices=["paused", "concurrency_limit", "rate_limit"], allow_null=True,
        help_text="A QUEUED job held back by its type's pause or a limit: why (null otherwise). No attempt is used up.")
    waiting_since = serializers.DateTimeField(allow_null=True)
    workflow_id = serializers.UUIDField(allow_null=True, help_text="The workflow this job is a step of, if any.")
    step = serializers.CharField(allow_null=True, help_text="Its step's name in that workflow.")


class StepRefSerializer(serializers.Serializer):
    step = serializers.CharField()
    job_id = serializers.UUIDField()
    url = serializers.CharField()


class StepRelationsSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The workflow.")
    url = serializers.CharField(help_text="/workflows/{id}.")
    step = serializers.CharField()
    role = serializers.ChoiceField(choices=["step", "on_success", "on_failure", "on_complete"])
    on_parent_failure = serializers.ChoiceField(choices=["fail", "continue"])
    parents = StepRefSerializer(many=True)
    children = StepRefSerializer(many=True)
    pending_parents = serializers.IntegerField(allow_null=True, help_text="While WAITING: its parents not ended yet.")


class JobSerializer(JobSummarySerializer):
    payload = serializers.JSONField()
    result = serializers.JSONField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    timeline = TimelineEntrySerializer(many=True)
    workflow = StepRelationsSerializer(allow_null=True, help_text="A workflow's step: its workflow, parents and children.")


class JobListPageSerializer(serializers.Serializer):
    results = JobSummarySerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page's URL, or null on the last page.")
    next_cursor = serializers.CharField(allow_null=True, help_text="The `cursor` of the next page, or null.")


class JobTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    example = serializers.JSONField(help_text="An example payload.")
    items = serializers.JSONField(allow_null=True, help_text="For a type that runs item by item: its chunk_size and example_items.")
    settings = TypeLimitsSerializer(help_text="Its flow control now: paused, default priority, limits (GET /job-types/{type}).")


class JobTypeCatalogueSerializer(serializers.Serializer):
    results = JobTypeSerializer(many=True)


class QueueDepthSerializer(serializers.Serializer):
    visible = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    delayed = serializers.IntegerField()


class PriorityQueueCountsSerializer(serializers.Serializer):
    queue = QueueDepthSerializer()
    dead_letter = QueueDepthSerializer()


class QueueCountsSerializer(serializers.Serializer):
    queue = QueueDepthSerializer(help_text="The three priorities' queues together.")
    dead_letter = QueueDepthSerializer(help_text="Their three dead-letter queues together.")
    priorities = serializers.DictField(child=PriorityQueueCountsSerializer(), help_text="high, normal and low, each.")


class DeadLetterSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    job_id = serializers.CharField(allow_null=True, help_text="Null when the message is not a job's.")
    receive_count = serializers.IntegerField()
    sent_at = serializers.CharField(help_text="SQS SentTimestamp: epoch milliseconds, as a string.")


class DeadLetterPageSerializer(serializers.Serializer):
    counts = QueueCountsSerializer()
    results = DeadLetterSerializer(many=True)


class RedriveSerializer(serializers.Serializer):
    redriven = serializers.ListField(child=serializers.CharField(), help_text="Job ids sent back to the jobs queue.")
    dropped = serializers.ListField(
        child=serializers.CharField(allow_null=True),
        help_text="Job ids of the messages deleted instead (job gone, completed or canceled; null: not a job's message).",
    )


def job_list_page(jobs, *, next_url: str | None = None, next_cursor: str | None = None) -> dict:
    """One page of a listing: JobListPageSerializer."""
    return {"results": [job_summary(j) for j in jobs], "next": next_url, "next_cursor": next_cursor}


def job_type_catalogue(views) -> dict:
    """The registered job types (selectors.type_views()) with an example payload and their settings each: JobTypeCatalogueSerializer."""
    return {"results": [
        {"name": v.name, "description": v.job_type.description, "example": v.job_type.example,
         "items": ({"chunk_size": v.job_type.items.chunk_size, "example_items": list(v.job_type.items.example_items)}
                   if v.job_type.items else None),
         "settings": limits_shape(v.limits)}
        for v in views
    ]}


def dead_letter_page(*, counts: dict, letters) -> dict:
    """Queue depths and the dead letters (peeked, left in place): DeadLetterPageSerializer."""
    return {
        "counts": counts,
        "results": [
            {"message_id": m.message_id, "job_id": m.job_id, "receive_count": m.receive_count, "sent_at": m.sent_at}
            for m in letters
        ],
    }
