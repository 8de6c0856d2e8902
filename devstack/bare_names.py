"""Names the baselines (the no-op floor and the peer) use on the embedded stack, shared by the servers and the benchmark (no imports)."""

CELERY_QUEUE = "bare-noop"  # the no-op Celery app's queue (after BatchLab's queue prefix)
CELERY_TASK = "bare.noop"
PEER_QUEUE = "peer-echo"  # the peer's Celery queue (after BatchLab's queue prefix)
PEER_TASK = "peer.echo"
PEER_TABLE = "bench-peer-results"  # the peer's Celery result backend table (Celery's schema: hash key "id")
