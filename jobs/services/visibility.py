"""Keep the SQS messages of running jobs invisible: the visibility heartbeat's one write.

A message received by a worker is hidden for the queue's visibility timeout;
if the job runs longer, SQS delivers the message again and a second worker
finds the job busy (or, were the claim's lease gone, runs it again). The worker's
main process calls this every third of the timeout for the messages of the
jobs its pool runs, so a running job's message stays hidden however long the job.
"""

from botocore.exceptions import BotoCoreError, ClientError

from jobs import queues
from jobs.services.store import logger


def messages_keep_invisible(*, receipts: list[tuple[str, str]], seconds: int) -> int:
    """ChangeMessageVisibility(seconds) for each (queue URL, receipt handle); returns how many were extended.

    A failure is logged and skipped: the next beat tries again, and at worst the
    message comes back, as it would without this heartbeat.
    """
    extended = 0
    for queue_url, receipt in receipts:
        try:
            queues.sqs_client().change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds)
            extended += 1
        except (BotoCoreError, ClientError) as exc:
            logger.warning("could not extend a running job's message visibility: %s", exc)
    return extended
