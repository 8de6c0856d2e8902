"""Staff inspection pages in the look of the Django admin: all jobs, one job, actions, dead letters.

Jobs live in DynamoDB, not the ORM, so these are plain views that extend the
admin's templates and read through selectors / write through services.
Domain errors become admin messages; nothing here touches the store directly.
"""

import json
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors, services
from jobs.exceptions import JobError, JobNotFound
from jobs.handlers import job_types
from jobs.serializers import is_job_id, job_detail
from jobs.states import JobStatus, can_cancel, can_retry

logger = logging.getLogger(__name__)

PER_PAGE = 50
FILTER_PARAMS = ("status", "type", "owner", "q")

# action name -> (label, past tense, service call)
ACTIONS = {
    "cancel": ("Cancel selected jobs", "Canceled (or asked to stop)",
               lambda job_id, actor: services.job_cancel(job_id=job_id, owner=None, actor=actor)),
    "retry": ("Retry selected jobs", "Retried",
              lambda job_id, actor: services.job_retry(job_id=job_id, owner=None, actor=actor)),
    "requeue": ("Requeue selected jobs (publish their message again)", "Requeued",
                lambda job_id, actor: services.job_requeue(job_id=job_id, actor=actor)),
}


def _plural(n: int, word: str = "job") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def _query_string(params: QueryDict, **changes) -> str:
    """The current filters with `changes` applied (None removes); a filter change drops the cursor."""
    query = params.copy()
    query.pop("cursor", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def _filter(params: QueryDict, *, title: str, name: str, choices: list[tuple[str, str]]) -> dict:
    current = params.get(name) or None
    items = [{"display": "All", "selected": current is None, "query_string": _query_string(params, **{name: None})}]
    items += [
        {"display": label, "selected": current == value, "query_string": _query_string(params, **{name: value})}
        for value, label in choices
    ]
    return {"title": title, "choices": items}


def _row(job) -> dict:
    data = job_detail(job)
    data["created"] = job.created_at
    data["started"] = job.started_at
    data["finished"] = job.finished_at
    return data


@staff_member_required
@require_http_methods(["GET", "POST"])
def job_changelist(request):
    """All jobs, newest first, with filters, search, cursor pages, counts per status and actions."""
    if request.method == "POST":
        return _run_action(request, fallback=reverse("staff:job-list"))
    params = request.GET
    status = params.get("status") if params.get("status") in JobStatus.__members__ else None
    job_type = params.get("type") or None
    owner = params.get("owner") or None
    query = (params.get("q") or "").strip()
    cursor = params.get("cursor") or None
    rows, next_cursor, counts = [], None, {}
    try:
        counts = selectors.job_status_counts()
        if is_job_id(query.lower()):
            try:
                rows = [_row(selectors.job_get(job_id=query.lower(), owner=None))]
            except JobNotFound:
                rows = []
        else:
            page = selectors.job_list(owner=owner, status=status, type=job_type, limit=PER_PAGE, cursor=cursor,
                                      name_contains=query or None)
            rows, next_cursor = [_row(j) for j in page.items], page.next_cursor
    except JobError as exc:
        messages.error(request, exc.detail)
    owners = sorted(set(get_user_model().objects.order_by("username").values_list("username", flat=True)[:200]) | ({owner} if owner else set()))
    filters = [
        _filter(params, title="status", name="status",
                choices=[(s.value, f"{s.value.capitalize()} ({counts.get(s.value, '?')})") for s in JobStatus]),
        _filter(params, title="type", name="type", choices=[(t.name, t.name) for t in job_types()]),
        _filter(params, title="owner", name="owner", choices=[(o, o) for o in owners]),
    ]
    next_query = None
    if next_cursor:
        next_params = params.copy()
        next_params["cursor"] = next_cursor
        next_query = f"?{next_params.urlencode()}"
    return render(request, "frontend/staff/job_list.html", _context(
        request,
        title="BatchLab jobs",
        rows=rows,
        counts=[(s.value, s.value.capitalize(), counts.get(s.value)) for s in JobStatus],
        total=sum(counts.values()) if counts else None,
        filters=filters,
        has_active_filters=any(params.get(p) for p in FILTER_PARAMS),
        query=query,
        hidden_params=[(k, params.get(k)) for k in ("status", "type", "owner") if params.get(k)],
        actions=[(name, label) for name, (label, _, _) in ACTIONS.items()],
        next_query=next_query,
        is_later_page=bool(cursor),
        first_query=_query_string(params),
        current_url=request.get_full_path(),
    ))


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _run_action(request, *, fallback: str):
    """Run one action on the selected jobs; each outcome, good or bad, becomes a message."""
    target = _safe_next(request, fallback)
    name = request.POST.get("action", "")
    selected = [i for i in request.POST.getlist("_selected_action") if i]
    if name not in ACTIONS:
        messages.warning(request, "No action selected.")
        return redirect(target)
    if not selected:
        messages.warning(request, "Items must be selected in order to perform actions on them. No items have been changed.")
        return redirect(target)
    _, done_label, call = ACTIONS[name]
    done = []
    for job_id in selected[:PER_PAGE]:
        if not is_job_id(job_id):
            messages.error(request, f"{job_id[:64]!r} is not a job id.")
            continue
        try:
            call(job_id, request.user.username)
            done.append(job_id)
        except JobError as exc:
            messages.error(request, exc.detail)
    if done:
        messages.success(request, f"{done_label} {_plural(len(done))}: {', '.join(done)}.")
    return redirect(target)


@staff_member_required
@require_POST
def job_action(request):
    """Actions posted from a job's detail page (the list posts to itself)."""
    return _run_action(request, fallback=reverse("staff:job-list"))


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@staff_member_required
def job_change(request, job_id: str):
    """One job with everything: fields, lease, payload, result, error, timeline and the raw DynamoDB item."""
    try:
        if not is_job_id(job_id):
            raise JobNotFound()
        job = selectors.job_get(job_id=job_id, owner=None)
    except JobNotFound:
        messages.warning(request, f"Job with ID “{job_id[:64]}” doesn’t exist. Perhaps it expired or was deleted?")
        return redirect("staff:job-list")
    except JobError as exc:
        messages.error(request, exc.detail)
        return redirect("staff:job-list")
    data = job_detail(job)
    lease_expires = datetime.fromtimestamp(int(job.lease_expires_at), UTC) if job.lease_expires_at else None
    actions = [name for name, allowed in (
        ("cancel", can_cancel(job.status)), ("retry", can_retry(job.status)), ("requeue", job.status == JobStatus.QUEUED),
    ) if allowed]
    return render(request, "frontend/staff/job_detail.html", _context(
        request,
        title=f"Job {job.name}",
        subtitle=job.job_id,
        job=job,
        data=data,
        lease_expires=lease_expires,
        payload_json=_pretty(job.payload),
        result_json=_pretty(job.result) if job.result is not None else None,
        raw_json=_pretty(job.to_simple_dict()),
        actions=[(name, ACTIONS[name][0].replace("selected jobs", "this job")) for name in actions],
        current_url=request.get_full_path(),
    ))


@staff_member_required
@require_http_methods(["GET", "POST"])
def dead_letters(request):
    """The dead-letter queue: counts, the letters (peeked, not taken) and a redrive action."""
    if request.method == "POST":
        try:
            outcome = services.dlq_redrive(actor=request.user.username)
        except JobError as exc:
            messages.error(request, exc.detail)
        except Exception as exc:  # the queue is down or refused: say so, do not crash the page
            logger.exception("dead-letter redrive failed")
            messages.error(request, f"Redrive failed: {exc.__class__.__name__}. See the server log.")
        else:
            messages.success(request, f"Redrove {_plural(len(outcome['redriven']), 'message')} to the jobs queue; "
                                      f"dropped {_plural(len(outcome['dropped']), 'message')} whose job was gone or finished.")
        return redirect("staff:dead-letters")
    counts, letters = None, []
    try:
        counts = selectors.queue_counts()
        letters = selectors.dead_letters_peek(max_messages=100)
    except Exception as exc:
        logger.exception("reading the dead-letter queue failed")
        messages.error(request, f"The queue could not be read: {exc.__class__.__name__}. See the server log.")
    rows = [
        {
            "message_id": letter.message_id,
            "job_id": letter.job_id,
            "receive_count": letter.receive_count,
            "sent_at": datetime.fromtimestamp(int(letter.sent_at) / 1000, UTC) if letter.sent_at.isdigit() else None,
            "body_preview": letter.body_preview,
        }
        for letter in letters
    ]
    return render(request, "frontend/staff/dead_letters.html", _context(
        request, title="Dead-letter queue", counts=counts, letters=rows,
        max_receive_count=settings.BATCHLAB_MAX_RECEIVE_COUNT,
    ))
