"""Staff page of the workers: each worker process that sent a heartbeat lately, alive or stale, and what it runs."""

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from jobs import selectors

logger = logging.getLogger(__name__)


@staff_member_required
@require_GET
def workers(request):
    """Alive workers first, then stale ones (missed a heartbeat: died, hung, or cut off from DynamoDB)."""
    views = []
    try:
        views = selectors.workers_list()
    except Exception as exc:  # the store is down: say so, do not crash the page
        logger.exception("reading the workers failed")
        messages.error(request, f"The workers could not be read: {exc.__class__.__name__}. See the server log.")
    alive = sum(1 for v in views if v.alive)
    return render(request, "frontend/staff/workers.html", {
        **admin.site.each_context(request),
        "title": "Workers",
        "workers": views,
        "alive": alive,
        "stale": len(views) - alive,
        "interval": settings.BATCHLAB_WORKER_HEARTBEAT_SECONDS,
    })
