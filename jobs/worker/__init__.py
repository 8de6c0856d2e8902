"""What runs inside a worker process besides its tasks: heartbeat, receive watchdog, visibility heartbeat, its metrics and state (wired in by batchlab.celery's signals)."""
