"""Natural micro-batching: the items of concurrent requests are computed in one model call.

One inference thread per process. When it is idle a request starts at once (no added latency
at low load); while it computes, new requests queue and the next call takes all of them (up to
`max_items`). The features and the forecaster are vectorised over symbols, so a call for 16
symbols costs far less than 16 calls. Results go back to each request in order; if a merged
call fails, its requests are retried one by one so a bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
logger = logging.getLogger(__name__)


@dataclass
class _Job(Generic[Item, Result]):
    items: Sequence[Item]
    future: asyncio.Future[list[Result]]


class MicroBatcher(Generic[Item, Result]):
    """Run `process(items) -> results` (same length, same order) on merged requests."""

    def __init__(
        self,
        process: Callable[[Sequence[Item]], list[Result]],
        executor: Executor,
        max_items: int,
        enabled: bool = True,
    ):
        self.process = process
        self.executor = executor
        self.max_items = max_items
        self.enabled = enabled
        self._queue: deque[_Job[Item, Result]] = deque()
        self._draining = False

    async def submit(self, items: Sequence[Item]) -> list[Result]:
        """The results for `items`, computed together with whatever else is queued."""
        loop = asyncio.get_running_loop()
        if not self.enabled:
            return await loop.run_in_executor(self.executor, self.process, items)
        job: _Job[Item, Result] = _Job(items, loop.create_future())
        self._queue.append(job)
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await job.future

    def _next_batch(self) -> list[_Job[Item, Result]]:
        batch = [self._queue.popleft()]
        size = len(batch[0].items)
        while self._queue and size + len(self._queue[0].items) <= self.max_items:
            job = self._queue.popleft()
            size += len(job.items)
            batch.append(job)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = [job for job in self._next_batch() if not job.future.done()]
                if batch:
                    await self._run(loop, batch)
        finally:
            self._draining = False

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Job]) -> None:
        merged = [item for job in batch for item in job.items]
        try:
            results = await loop.run_in_executor(self.executor, self.process, merged)
        except Exception as exc:
            if len(batch) > 1:
                logger.warning("batch of %d requests failed (%r); retrying each", len(batch), exc)
                for job in batch:
                    await self._run(loop, [job])
                return
            _set(batch[0].future, exception=exc)
            return
        start = 0
        for job in batch:
            _set(job.future, result=results[start : start + len(job.items)])
            start += len(job.items)


def _set(future: asyncio.Future, result: object = None, exception: BaseException | None = None):
    if future.done():  # the client went away
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


def _limit_threads(threads: int) -> None:
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    threadpool_limits(limits=threads)


def inference_executor(threads: int) -> ThreadPoolExecutor:
    """The single thread that runs the model, its native thread pools limited to `threads`."""
    return ThreadPoolExecutor(
        max_workers=1,
        thread_name_prefix="rps-inference",
        initializer=_limit_threads,
        initargs=(threads,),
    )
