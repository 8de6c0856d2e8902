"""Names the bare baselines use on the embedded stack, shared by the servers and the benchmark (no imports)."""

DRF_TABLE = "bench-bare"  # the bare DRF view's PutItem goes here
DRF_QUEUE = "bench-bare"  # ... and its SendMessage here (nobody consumes it)
CELERY_QUEUE = "bare-noop"  # the bare Celery app's queue (after BatchLab's queue prefix)
CELERY_TASK = "bare.noop"
