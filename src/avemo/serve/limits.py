"""Upload size limit enforced while the request body streams in (ASGI middleware): a declared
``Content-Length`` over the limit is refused before any byte is read, and a body that grows past it (chunked
uploads) is cut off there, so an oversized upload never fills memory or disk."""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Sequence

Message = dict[str, Any]


class BodyTooLarge(Exception):
    """Raised into the app when the body passes the limit; the middleware answers 413."""


class BodyLimitMiddleware:
    """Answer 413 ``{"error": {"code": "too_large", ...}}`` to requests on ``paths`` whose body exceeds
    ``max_bytes``."""

    def __init__(self, app, max_bytes: int, paths: Sequence[str] = ("/",)) -> None:
        self.app, self.max_bytes, self.paths = app, max_bytes, tuple(paths)

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Callable[[Message], Awaitable[None]]) -> None:
        limit = self.max_bytes / (1024 * 1024)
        body = json.dumps({"error": {"code": "too_large", "message": f"the upload is larger than the server's limit "
                                     f"of {limit:g} MB; send a smaller file or raise --max-upload-mb"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
