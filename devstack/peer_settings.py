"""Django settings of the benchmark's peer DRF server: BatchLab's own settings, only the URLs differ."""

from batchlab.settings import *  # noqa: F401,F403  (same middleware, authentication, database)

ROOT_URLCONF = "devstack.peer_web"
