"""Workflows: a DAG of steps, each a job; a step's end tells its children in the same transaction (release.py).

- submission.py: workflow_submit (header, graph, steps WAITING, then the start)
- release.py: what a step's end tells its targets (the counters, the one release); effects.py: what its final
  write carries, contributed to the hook every job status change calls (jobs.services.jobs.effects), which this
  package joins when imported
- links.py: the rest of an end too wide for one transaction, link by link (a cursor on the step)
- plans.py: the start, a cancel and a retry, walked in links recorded on the header
- actions.py: workflow_cancel, workflow_retry; graphs.py: the header by key, publishing released steps
"""

from jobs.services.jobs.effects import CONTRIBUTORS
from jobs.services.workflows.actions import workflow_cancel, workflow_retry
from jobs.services.workflows.effects import step_effects
from jobs.services.workflows.submission import workflow_submit

if step_effects not in CONTRIBUTORS:
    CONTRIBUTORS.append(step_effects)

__all__ = ["workflow_cancel", "workflow_retry", "workflow_submit"]
