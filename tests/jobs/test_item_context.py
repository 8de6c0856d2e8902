"""What an item handler is given: the fencing token of its chunk's claim, as a job handler is given its job's."""

from dataclasses import replace

from jobs import services
from jobs.services.items import runner
from jobs.services.lease.outcome import Outcome
from jobs.tables import Chunk, chunk_sk


def test_an_item_handler_sees_the_claim_token_its_chunk_is_held_under(aws, chunk_messages, monkeypatch):
    seen, real = [], runner.job_type_get

    def spied(name):
        job_type = real(name)
        handler = job_type.items.handler

        def spy(item, ctx):
            held = Chunk.get(ctx.job_id, chunk_sk(ctx.chunk), consistent_read=True).claim_token
            seen.append((ctx.chunk, ctx.claim_token, held))
            return handler(item, ctx)

        return replace(job_type, items=replace(job_type.items, handler=spy))

    monkeypatch.setattr(runner, "job_type_get", spied)
    source = services.items_inline(type="checksum", values=["a", "b", "c"], on_invalid="reject")
    job, _ = services.job_submit_items(owner="u", name="n", type="checksum", payload={}, source=source, chunk_size=2)
    assert [services.chunk_execute(job_id=job.job_id, number=n, worker="w") for n in (1, 2)] == [Outcome.COMPLETED] * 2
    assert [chunk for chunk, _, _ in seen] == [1, 1, 2]
    assert all(token and token == held for _, token, held in seen), seen
    assert seen[0][1] != seen[2][1]  # one claim per chunk
