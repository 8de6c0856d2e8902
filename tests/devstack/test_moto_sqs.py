"""The embedded SQS (devstack.moto_sqs): a message sent while another is being deleted is kept."""

import threading

from moto.sqs import models

import devstack.moto_sqs  # noqa: F401  (patches moto.sqs.models, as `python -m devstack.moto_sqs` does)


class _SlowSwapQueue(models.Queue):
    """A queue that holds a delete just before it stores its rebuilt list: the window a concurrent send fell into."""

    def __init__(self, *args, **kwargs):
        self.armed, self.swapping, self.go_on = False, threading.Event(), threading.Event()
        super().__init__(*args, **kwargs)

    @property
    def _messages(self):
        return self.__dict__["_message_list"]

    @_messages.setter
    def _messages(self, value):
        if self.armed:
            self.swapping.set()
            self.go_on.wait(5)
        self.__dict__["_message_list"] = value


def test_a_message_sent_while_another_is_deleted_is_not_lost():
    queue = _SlowSwapQueue(name="q", region="us-east-1", account_id="123456789012")
    doomed = models.Message("m1", "bye")
    doomed.receipt_handle = "r1"
    queue._messages = [doomed, models.Message("m2", "stays")]
    queue.armed = True
    deleting = threading.Thread(target=queue.delete_message, args=("r1",))
    deleting.start()
    assert queue.swapping.wait(5)  # the delete walked the list and is about to store the rest
    sending = threading.Thread(target=queue.add_message, args=(models.Message("m3", "new"),))
    sending.start()
    sending.join(0.3)  # with the lock the send waits here; without it, it appended to the list being replaced
    queue.go_on.set()
    deleting.join(5)
    sending.join(5)
    assert [m.body for m in queue._messages] == ["stays", "new"]
