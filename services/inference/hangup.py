"""A non-streamed generation stops when its client hangs up, as a stream's does.

Starlette runs a plain endpoint to its end whatever the client does, so a caller who gives up (a
timeout, a killed script) would leave its rows decoding to max_tokens and holding its admission slot.
While the decode runs, the connection is checked every POLL_S; once the client is gone, the request's
cancel event ends its rows at their next step (the answer then goes nowhere).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from .service import Generation

POLL_S = 0.25


async def until_done_or_gone(
    request: Request, generate: Callable[[threading.Event], Coroutine[Any, Any, Generation]]
) -> Generation:
    """`generate(cancel)` run to its end; `cancel` is set as soon as the client disconnects."""
    cancel = threading.Event()
    task = asyncio.ensure_future(generate(cancel))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_S)
            if not task.done() and await request.is_disconnected():
                cancel.set()  # the decode ends at its next step
                break
        return await task
    except asyncio.CancelledError:
        cancel.set()
        raise
