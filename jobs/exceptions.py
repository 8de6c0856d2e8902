"""Domain exceptions; each carries a stable `code`, mapped to HTTP in batchlab.errors."""


class JobError(Exception):
    """Base for every error the jobs domain raises on purpose."""

    code = "job_error"
    default_detail = "The job could not be processed."

    def __init__(self, detail: str | None = None, *, extra: dict | None = None):
        self.detail = detail or self.default_detail
        self.extra = extra or {}
        super().__init__(self.detail)


class JobNotFound(JobError):
    code = "job_not_found"
    default_detail = "No such job."


class JobStateConflict(JobError):
    code = "job_state_conflict"
    default_detail = "The job is not in a state that allows this."


class JobMovedMeanwhile(JobStateConflict):
    """The job changed between the read and the conditional write (a claim, a finish): read it again and decide again."""


class UnknownJobType(JobError):
    code = "unknown_job_type"
    default_detail = "Unknown job type."


class InvalidPayload(JobError):
    code = "invalid_payload"
    default_detail = "The payload is not valid for this job type."

    def __init__(self, errors: dict, detail: str | None = None):
        super().__init__(detail or "The payload is not valid for this job type.", extra={"errors": errors})
        self.errors = errors


class InvalidItems(JobError):
    code = "invalid_items"
    default_detail = "Some items cannot be taken; nothing was accepted."

    def __init__(self, detail: str | None = None, *, errors: dict, bad_lines: int):
        super().__init__(detail, extra={"errors": errors, "bad_lines": bad_lines})
        self.errors = errors


class EmptyItemsFile(JobError):
    code = "empty_file"
    default_detail = "The file has no lines."


class TooManyLines(JobError):
    code = "too_many_lines"
    default_detail = "The file has too many lines."


class FileTooLarge(JobError):
    code = "file_too_large"
    default_detail = "The file is too large."


class NotAnItemJob(JobError):
    code = "not_an_item_job"
    default_detail = "This job has no items."


class PayloadTooLarge(JobError):
    code = "payload_too_large"
    default_detail = "The payload is too large."


class IdempotencyKeyReused(JobError):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class InvalidCursor(JobError):
    code = "invalid_cursor"
    default_detail = "The cursor is malformed or was not issued by this server."


class StoreUnavailable(JobError):
    code = "store_unavailable"
    default_detail = "The job store is unavailable; try again shortly."


class QueueUnavailable(JobError):
    code = "queue_unavailable"
    default_detail = "The job was stored but could not be queued; the recovery pass will queue it."


class ScheduleNotFound(JobError):
    code = "schedule_not_found"
    default_detail = "No such schedule."


class ScheduleStateConflict(JobError):
    code = "schedule_state_conflict"
    default_detail = "The schedule changed meanwhile, or does not allow this now."


class JobTypeNotFound(JobError):
    code = "job_type_not_found"
    default_detail = "No such job type."


class JobTypeConflict(JobError):
    code = "job_type_conflict"
    default_detail = "The job type's settings changed meanwhile; try again."


class WebhookNotFound(JobError):
    code = "webhook_not_found"
    default_detail = "No such webhook endpoint."


class DeliveryNotFound(JobError):
    code = "delivery_not_found"
    default_detail = "No such delivery."


class InvalidWebhook(JobError):
    """A webhook URL or event list the server refuses: not a URL, a scheme or an address it may not call, an unknown event."""

    code = "validation_error"
    default_detail = "The webhook is not valid."

    def __init__(self, errors: dict, detail: str | None = None):
        super().__init__(detail or "; ".join(m for ms in errors.values() for m in ms), extra={"errors": errors})
        self.errors = errors


class WebhookStateConflict(JobError):
    code = "webhook_state_conflict"
    default_detail = "The webhook endpoint or delivery does not allow this now."


class InvalidWorkflow(JobError):
    """A workflow definition that cannot run: `errors` names each problem by field (`steps.<name>.needs`, ...)."""

    code = "invalid_workflow"
    default_detail = "The workflow definition is not valid."

    def __init__(self, errors: dict, detail: str | None = None):
        first = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in list(errors.items())[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(detail or f"The workflow cannot run: {first}{more}", extra={"errors": errors})
        self.errors = errors


class WorkflowNotFound(JobError):
    code = "workflow_not_found"
    default_detail = "No such workflow."


class WorkflowStateConflict(JobError):
    code = "workflow_state_conflict"
    default_detail = "The workflow is not in a state that allows this."
