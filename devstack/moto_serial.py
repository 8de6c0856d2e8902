"""moto's server, one request at a time: the embedded DynamoDB with DynamoDB's per-request atomicity.

`python -m devstack.moto_serial -H HOST -p PORT` takes moto.server's arguments.

moto serves each request on its own thread and takes no lock: a conditional
write's check and its update are not atomic, and a TransactWriteItems that
fails restores a copy of every table it touched taken when it began, undoing
whatever other clients wrote in the meantime. A concurrent Idempotency-Key
retry was seen to undo a worker's claim that way, leaving the job QUEUED with
no message. DynamoDB itself applies each request atomically; so does this
server, by holding one lock around moto's application. moto is CPU-bound under
the GIL, so this costs little throughput. Not for SQS: a long poll holds its
request for up to 20 s. Its transactions back up the items they touch, not
whole tables (devstack.moto_dynamodb).
"""

import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from devstack import moto_dynamodb

_lock = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _one_at_a_time(self, environ, start_response):
    with _lock:
        # moto builds the whole response inside this call, so the request is
        # handled entirely under the lock.
        return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _one_at_a_time
moto_dynamodb.install()

if __name__ == "__main__":
    server.main()
