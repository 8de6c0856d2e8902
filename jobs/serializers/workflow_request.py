"""The body of POST /workflows: a name, steps by name (each a job's fields plus `needs`), callbacks; every problem listed at once.

A step is validated as a job submission is (JobSubmitSerializer, or
ItemJobSubmitSerializer when it has `items`); its errors come back under
`steps.<name>.<field>` (a callback's under `on_success.<field>`), and the
graph's problems (unknown needs, cycles, names, limits) from jobs.dag under the
same keys. Any of them refuses the whole workflow (InvalidWorkflow, 400).
"""

from collections.abc import Mapping

from rest_framework import serializers

from jobs.dag import CALLBACKS, MAX_STEPS, POLICIES, DagError, StepSpec, dag_build
from jobs.exceptions import InvalidWorkflow, UnknownJobType
from jobs.handlers.fields import StrictCharField
from jobs.handlers.registry import job_type_get
from jobs.serializers.items import ItemJobSubmitSerializer
from jobs.serializers.request import CONTROL_CHARS, MAX_LIMIT, MAX_NAME_LENGTH, JobSubmitSerializer
from jobs.states import WorkflowStatus


class _StepFields(serializers.Serializer):
    needs = serializers.ListField(child=StrictCharField(max_length=64), required=False, default=list, max_length=MAX_STEPS,
                                  help_text="The steps this one waits for (their names).")
    on_parent_failure = serializers.ChoiceField(
        choices=POLICIES, required=False, default="fail",
        help_text="fail (default): a failed or canceled parent ends this step CANCELED with `dependency_failed`;"
                  " continue: it runs anyway and sees which parents failed.")


class StepSerializer(_StepFields, JobSubmitSerializer):
    """A payload step: a job's type, payload, priority and concurrency key, and what it needs."""

    name = None
    run_at = None
    delay_seconds = None


class ItemStepSerializer(_StepFields, ItemJobSubmitSerializer):
    """An item step: an item job's type, options, items (inline), chunk size, failure ratio, and what it needs."""

    name = None
    run_at = None
    delay_seconds = None


class CallbackSerializer(JobSubmitSerializer):
    """A callback: a payload job run once the workflow ended (it sees every step's status and result)."""

    name = None
    run_at = None
    delay_seconds = None


class WorkflowSubmitSerializer(serializers.Serializer):
    """Documents the body (OpenAPI); `workflow_definition_read` validates it."""

    name = StrictCharField(max_length=MAX_NAME_LENGTH)
    steps = serializers.DictField(child=StepSerializer(), help_text=f"Up to {MAX_STEPS} steps by name (a slug).")
    on_success = CallbackSerializer(required=False, help_text="Runs once when every step COMPLETED.")
    on_failure = CallbackSerializer(required=False, help_text="Runs once when the workflow FAILED.")
    on_complete = CallbackSerializer(required=False, help_text="Runs once when every step is final (not when canceled).")


TOP_LEVEL = ("name", "steps", *CALLBACKS)


def _step_errors(prefix: str, serializer) -> dict:
    out = {}
    for field, messages in serializer.errors.items():
        key = prefix if field == "non_field_errors" else f"{prefix}.{field}"
        out[key] = list(messages) if isinstance(messages, list) else [str(messages)]
    return out


def _validated(prefix: str, body, serializer_class, errors: dict) -> dict | None:
    if not isinstance(body, Mapping):
        errors[prefix] = ["A step is a JSON object."]
        return None
    serializer = serializer_class(data=body)
    try:
        valid = serializer.is_valid()
    except UnknownJobType as exc:
        errors[f"{prefix}.type"] = [exc.detail]
        return None
    if not valid:
        errors.update(_step_errors(prefix, serializer))
        return None
    return dict(serializer.validated_data)


def _type_of(body) -> tuple[str, str]:
    """(type, priority) of a step's body as given, for the graph (the step's own check says if they are bad)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
        return "", "normal"
    try:
        limits = job_type_get(body["type"]).limits
        default = str(getattr(limits, "priority", None) or "normal")
    except UnknownJobType:
        default = "normal"
    return body["type"], str(body.get("priority") or default)


def workflow_definition_read(data, *, owner: str) -> dict:
    """The validated definition: {"name", "steps": [validated step, ...] (regular then callbacks), "graph", "body"}.

    Each validated step has its job's fields plus "step" (its name) and "role".
    InvalidWorkflow lists every problem.
    """
    if not isinstance(data, Mapping):
        raise InvalidWorkflow({"non_field_errors": ["The body must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    for field in data:
        if field not in TOP_LEVEL:
            errors[field] = [f"Unknown field; the fields are {', '.join(TOP_LEVEL)}."]
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["A workflow needs a name (a string)."]
    elif len(name) > MAX_NAME_LENGTH or CONTROL_CHARS.search(name):
        errors["name"] = [f"At most {MAX_NAME_LENGTH} characters, no control characters."]
    steps = data.get("steps")
    if not isinstance(steps, Mapping):
        errors["steps"] = ["An object of steps by name."]
        steps = {}
    validated, specs = [], []
    for step_name, body in steps.items():
        serializer_class = ItemStepSerializer if isinstance(body, Mapping) and "items" in body else StepSerializer
        clean = _validated(f"steps.{step_name}", body, serializer_class, errors)
        type_, priority = _type_of(body)
        needs = body.get("needs", []) if isinstance(body, Mapping) else []
        policy = body.get("on_parent_failure", "fail") if isinstance(body, Mapping) else "fail"
        specs.append(StepSpec(name=step_name, needs=tuple(needs) if isinstance(needs, list) else needs,
                              on_parent_failure=policy, type=type_, priority=priority,
                              key=body.get("concurrency_key") if isinstance(body, Mapping) else None))
        if clean is not None:
            validated.append({**clean, "step": step_name, "role": "step", "priority": priority})
    for role in CALLBACKS:
        if role not in data:
            continue
        clean = _validated(role, data[role], CallbackSerializer, errors)
        type_, priority = _type_of(data[role])
        specs.append(StepSpec(name=role, role=role, type=type_, priority=priority,
                              key=data[role].get("concurrency_key") if isinstance(data[role], Mapping) else None))
        if clean is not None:
            validated.append({**clean, "step": role, "role": role, "priority": priority})
    graph = None
    try:
        graph = dag_build(specs, owner=owner) if not errors.get("steps") else None
    except DagError as exc:
        for key, messages in exc.errors.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise InvalidWorkflow(errors)
    return {"name": name.strip(), "steps": validated, "graph": graph, "body": dict(data)}


class WorkflowListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in WorkflowStatus if s != WorkflowStatus.SUBMITTING], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=20)
    cursor = serializers.CharField(max_length=2000, required=False)
