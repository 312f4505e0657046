"""The bounded thread pool that runs predictions off the event loop, with admission control and a time limit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from avemo.serve.errors import ServiceError

if TYPE_CHECKING:
    from avemo.serve.app import ServeSettings


class Worker:
    """The bounded pool that runs predictions, with admission control: at most ``max_concurrent`` requests
    running or waiting; beyond that :meth:`run` raises a 503 at once."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="avemo-predict")
        self._admitted = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def admit(self):
        with self._lock:
            if self._admitted >= self.settings.max_concurrent:
                retry = max(1, round(self._admitted / max(self.settings.threads, 1)))
                raise ServiceError(503, "busy", f"the server is busy ({self._admitted} requests in progress); "
                                   f"retry after {retry} s", {"Retry-After": str(retry)})
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in the pool (after admission) within the time limit."""
        with self.admit():
            future = asyncio.get_running_loop().run_in_executor(self.pool, function, *args)
            try:
                return await asyncio.wait_for(future, self.settings.timeout)
            except asyncio.TimeoutError:
                raise ServiceError(504, "timeout", f"the prediction took longer than {self.settings.timeout:g} s; "
                                   "send a shorter file or raise the server's --timeout") from None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
