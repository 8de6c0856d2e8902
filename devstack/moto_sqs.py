"""moto's server for the embedded SQS, with a cheaper clock: the same answers, several times faster.

`python -m devstack.moto_sqs -H HOST -p PORT` takes moto.server's arguments.

moto's SQS is O(messages in the queue) per request: every send, receive and
delete walks the queue, asking each message whether it is visible or delayed,
and each answer reads the clock through `unix_time()`, which builds two
datetimes and subtracts them. With 2,000 messages queued, 2,000 sends took
37 s and a receive plus delete 0.1 s; moto, not BatchLab, was then the
bottleneck of every load run. The same seconds since the epoch from
`time.time()` cut that to 7 s and 0.012 s. Only the current-time case is
replaced; a given datetime is still converted by moto's own function.
"""

import time

from moto import server
from moto.core import utils
from moto.sqs import models

_unix_time = utils.unix_time


def unix_time(dt=None) -> float:
    return time.time() if dt is None else _unix_time(dt)


def unix_time_millis(dt=None) -> float:
    return unix_time(dt) * 1000.0


# moto.sqs.models imported both names directly: replace them there.
models.unix_time = unix_time
models.unix_time_millis = unix_time_millis

if __name__ == "__main__":
    server.main()
