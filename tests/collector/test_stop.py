"""The collector stops, whatever its background tasks do with the cancellation.

A CI run stalled for 90 minutes in a fixture's `collector.stop()`: the store-health ticker had
swallowed its cancellation (`asyncio.wait_for` before Python 3.12 returns the inner result
when it finishes in the same loop iteration as the cancel) and went on ticking, and `stop()`
awaited it forever. Both halves are checked: the ticker no longer swallows that cancel, and
`stop()` ends even a task that does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collector.aio import cancel_and_wait
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import Clock, make_config

HANG_GUARD_S = 60  # a failing run ends here instead of hanging; a passing one takes < 1 s


class Store:
    """A SQLite store whose health check the test scripts."""

    def __init__(self, inner: SqliteStore) -> None:
        self._inner = inner
        self.cancel_ticker_on_return = False
        self.swallow = False
        self.swallowed = 0

    async def health(self) -> str:
        if self.cancel_ticker_on_return:
            # the race: the ticker is cancelled while this check is finishing
            [ticker] = [t for t in asyncio.all_tasks() if t.get_name() == "store-health"]
            ticker.cancel()
            return ""
        if self.swallow:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.swallowed += 1  # once, as the race in wait_for does
                self.swallow = False
            return ""
        return await self._inner.health()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[Store, Collector]]:
    store = Store(SqliteStore(tmp_path / "store.db"))
    collector = Collector(make_config(tmp_path), store, clock=Clock())  # type: ignore[arg-type]
    collector.health_seconds = 0.01
    await collector.start()
    try:
        yield store, collector
    finally:
        async with asyncio.timeout(HANG_GUARD_S):
            await collector.stop()


async def test_the_health_ticker_ends_when_cancelled_as_its_check_finishes(
    started: tuple[Store, Collector],
) -> None:
    store, _ = started
    [ticker] = [t for t in asyncio.all_tasks() if t.get_name() == "store-health"]
    store.cancel_ticker_on_return = True
    async with asyncio.timeout(HANG_GUARD_S):
        await asyncio.wait({ticker})  # with wait_for the ticker went on ticking here
    assert ticker.cancelled()


async def test_stop_ends_a_task_that_swallows_its_cancellation(
    started: tuple[Store, Collector],
) -> None:
    store, collector = started
    store.swallow = True
    while not any(t.get_name() == "store-health" for t in asyncio.all_tasks()):
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)  # the ticker is inside a health check that swallows the cancel
    # awaited from a task of its own: a guard cancelling this test's task would cancel the
    # ticker again itself and hide a stop() that cannot end on its own
    stopping = asyncio.create_task(collector.stop())
    done, _ = await asyncio.wait({stopping}, timeout=HANG_GUARD_S)
    assert stopping in done, "stop() did not end"
    assert store.swallowed == 1
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "store-health"]


async def test_cancel_and_wait_ends_tasks_that_refuse_twice_and_tasks_that_failed() -> None:
    async def stubborn() -> None:
        for _ in range(3):  # refuses twice, then gives in
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    async def failing() -> None:
        raise RuntimeError("boom")

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(failing())]
    await asyncio.sleep(0)
    async with asyncio.timeout(HANG_GUARD_S):
        await cancel_and_wait(tasks)
    assert all(t.done() for t in tasks)
    assert tasks[1].exception() is not None  # kept, and retrieved (no warning at exit)


async def test_cancel_and_wait_gives_up_on_a_task_that_never_stops_and_names_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refuse = True

    async def mule() -> None:
        while refuse:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    task = asyncio.create_task(mule(), name="mule")
    await asyncio.sleep(0)
    async with asyncio.timeout(HANG_GUARD_S):
        await cancel_and_wait([task], give_up_after=1.0)
    assert not task.done()
    assert "mule" in caplog.text and "left running" in caplog.text
    refuse = False
    task.cancel()
    await asyncio.wait({task})
