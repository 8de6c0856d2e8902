"""Request and response examples for the OpenAPI document (shown in Swagger UI at /api/docs/ and in ReDoc)."""

from drf_spectacular.utils import OpenApiExample

PROBLEM_JSON = "application/problem+json"
JOB_ID = "7f3c2a1e-0b7d-4c36-9a55-2f0f3c1d9e11"

JOB_QUEUED = {
    "id": JOB_ID, "url": f"/jobs/{JOB_ID}", "name": "resize march photos", "type": "sleep", "status": "QUEUED",
    "owner": "demo", "attempts": 0, "max_attempts": 3, "progress": {"done": 0, "total": 0},
    "cancel_requested": False, "error": None, "created_at": "2026-11-26T05:00:00.123000Z",
    "updated_at": "2026-11-26T05:00:00.123000Z", "started_at": None, "finished_at": None, "duration_seconds": None,
    "version": 1, "payload": {"seconds": 3}, "result": None, "expires_at": "2026-12-03T05:00:00Z",
    "timeline": [{"at": "2026-11-26T05:00:00.123000Z", "event": "submitted", "status": "QUEUED",
                  "message": "Submitted by demo.", "worker": None}],
}

SUBMIT = [
    OpenApiExample("sleep for 3 seconds", request_only=True,
                   value={"name": "resize march photos", "type": "sleep", "payload": {"seconds": 3}}),
    OpenApiExample("count words", request_only=True,
                   value={"name": "word count", "type": "wordcount", "payload": {"text": "the cat and the hat", "top": 3}}),
    OpenApiExample("stored and queued", response_only=True, status_codes=["201"], value=JOB_QUEUED),
    OpenApiExample(
        "every bad field", response_only=True, status_codes=["400"], media_type=PROBLEM_JSON,
        value={"type": "about:blank", "title": "Bad Request", "status": 400, "code": "validation_error",
               "detail": "The request has invalid fields.",
               "errors": {"name": ["This field may not be blank."], "payload.seconds": ["Ensure this value is less than or equal to 300."]}},
    ),
    OpenApiExample(
        "Idempotency-Key reused with another body", response_only=True, status_codes=["422"], media_type=PROBLEM_JSON,
        value={"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "code": "idempotency_key_reused",
               "detail": f"Idempotency-Key 'order-42' was already used for job {JOB_ID} with a different request body."},
    ),
]

CONFLICT = [
    OpenApiExample(
        "a finished job", response_only=True, status_codes=["409"], media_type=PROBLEM_JSON,
        value={"type": "about:blank", "title": "Conflict", "status": 409, "code": "job_state_conflict",
               "detail": f"Job {JOB_ID} is COMPLETED and cannot be canceled.", "job_status": "COMPLETED"},
    ),
]

WORKFLOW_ID = "3c9e1f20-5d1a-4b7e-8f3a-6a2b1c0d9e77"

WORKFLOW_SUBMIT = [
    OpenApiExample("a diamond: a, then b and c, then d over both", request_only=True, value={
        "name": "diamond", "steps": {
            "a": {"type": "echo", "payload": {"n": 1}},
            "b": {"type": "echo", "payload": {"n": 2}, "needs": ["a"]},
            "c": {"type": "echo", "payload": {"n": 3}, "needs": ["a"]},
            "d": {"type": "collect", "needs": ["b", "c"]}},
        "on_failure": {"type": "echo", "payload": {"alert": "diamond failed"}}}),
    OpenApiExample(
        "a cycle", response_only=True, status_codes=["400"], media_type=PROBLEM_JSON,
        value={"type": "about:blank", "title": "Bad Request", "status": 400, "code": "invalid_workflow",
               "detail": "The workflow cannot run: steps.a.needs: The steps a → b → a form a cycle: none of them could"
                         " ever start.",
               "errors": {"steps.a.needs": ["The steps a → b → a form a cycle: none of them could ever start."]}},
    ),
]
