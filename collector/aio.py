"""Ending background tasks for sure. Standard library only; any part of the collector may
import it.

`task.cancel()` followed by `await task` hangs forever when the task swallows the cancellation:
before Python 3.12, `asyncio.wait_for` returns the inner result instead of raising
`CancelledError` when the inner awaitable finishes in the same loop iteration as the cancel
(CPython gh-86296), and a ticker's `while True` then goes on. A collector stuck in `stop()` that
way is what stalled a CI run for 90 minutes. So: cancel, wait a little, cancel what is still
running again, until everything has ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger("hotline.collector")

_AGAIN_AFTER_S = 0.5


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task | asyncio.Future], give_up_after: float = 10.0
) -> None:
    """Cancel `tasks` and return once every one has ended, cancelling again any that swallowed
    the cancellation. Their results and exceptions are discarded (they were told to stop). A
    task that still runs after `give_up_after` seconds of this is left behind with an ERROR
    naming it: a shutdown that never ends would be worse."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    for task in pending:
        task.cancel()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            log.error(
                "left running after %.0f s of cancelling: %s",
                give_up_after,
                ", ".join(sorted(_name(t) for t in pending)),
            )
            break
        _, pending = await asyncio.wait(pending, timeout=min(_AGAIN_AFTER_S, left))
        for task in pending:
            task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at shutdown


def _name(task: asyncio.Task | asyncio.Future) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)
