"""Natural micro-batching: concurrent requests share model calls, each gets its own results."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rps_kedro.serving.batching import MicroBatcher


class Recorder:
    """A fake model call: doubles each item; slow enough for requests to queue behind it."""

    def __init__(self, fail_on: int | None = None):
        self.calls: list[list[int]] = []
        self.fail_on = fail_on
        self.release = threading.Event()

    def __call__(self, items):
        self.calls.append(list(items))
        self.release.wait(timeout=5)
        if self.fail_on in items:
            raise ValueError(f"cannot process {self.fail_on}")
        return [2 * item for item in items]


async def _submit_all(batcher, requests):
    first = asyncio.create_task(batcher.submit(requests[0]))
    await asyncio.sleep(0.05)  # the first call is now running: the others queue behind it
    rest = [asyncio.create_task(batcher.submit(r)) for r in requests[1:]]
    await asyncio.sleep(0.05)
    batcher.process.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_queued_requests_are_merged_into_one_call_and_split_back():
    process = Recorder()
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(process, executor, max_items=10)
        results = asyncio.run(_submit_all(batcher, [[1], [2, 3], [4], [5]]))
    assert results == [[2], [4, 6], [8], [10]]
    assert process.calls == [[1], [2, 3, 4, 5]]


def test_a_call_takes_at_most_max_items():
    process = Recorder()
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(process, executor, max_items=3)
        asyncio.run(_submit_all(batcher, [[1], [2, 3], [4], [5, 6, 7, 8]]))
    assert process.calls == [[1], [2, 3, 4], [5, 6, 7, 8]]


def test_a_failing_request_does_not_fail_the_requests_it_was_merged_with():
    process = Recorder(fail_on=4)
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(process, executor, max_items=10)
        results = asyncio.run(_submit_all(batcher, [[1], [2, 3], [4], [5]]))
    assert results[:2] == [[2], [4, 6]] and results[3] == [10]
    assert isinstance(results[2], ValueError)


def test_disabled_batching_calls_the_model_per_request():
    process = Recorder()
    process.release.set()
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(process, executor, max_items=10, enabled=False)

        async def run():
            return await asyncio.gather(*(batcher.submit([i]) for i in range(3)))

        assert asyncio.run(run()) == [[0], [2], [4]]
    assert sorted(process.calls) == [[0], [1], [2]]


@pytest.mark.parametrize("max_items", [1, 2])
def test_an_oversized_request_is_still_computed(max_items):
    process = Recorder()
    process.release.set()
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(process, executor, max_items=max_items)
        assert asyncio.run(batcher.submit([1, 2, 3])) == [2, 4, 6]
