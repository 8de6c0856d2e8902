"""Settings for the test process itself: the embedded defaults, no real AWS endpoint.

Unit tests run against moto's in-process mock; end-to-end tests start their own
processes (moto servers, workers, web) with their own environment.
"""

import os
import tempfile

os.environ["BATCHLAB_EMBEDDED"] = "1"
os.environ["BATCHLAB_TEST_HANDLERS"] = "1"
os.environ.setdefault("BATCHLAB_SQLITE_PATH", os.path.join(tempfile.gettempdir(), "batchlab-test.sqlite3"))
os.environ["BATCHLAB_STATUS_COUNTS_CACHE_SECONDS"] = "0"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_REGION"] = "us-east-1"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(name, None)

from batchlab.settings import *  # noqa: E402,F401,F403
