"""Run the service with uvicorn: ``avemo serve --host H --port P``."""

from __future__ import annotations

import os

from avemo.serve.app import ServeSettings, create_app

#: Environment variable carrying the settings to uvicorn's worker processes (``--workers`` > 1).
SETTINGS_ENV = "AVEMO_SERVE_SETTINGS"


def app_from_environment():
    """App factory for uvicorn worker processes: the settings come from :data:`SETTINGS_ENV` (JSON)."""
    import json

    return create_app(ServeSettings(**json.loads(os.environ.get(SETTINGS_ENV, "{}"))))


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "info") -> None:
    """Serve until interrupted; with ``workers`` > 1, that many processes each load the models."""
    import dataclasses
    import json

    import uvicorn

    if workers > 1:
        os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
        uvicorn.run("avemo.serve.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, ws_max_size=16 * 1024 * 1024)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                    ws_max_size=16 * 1024 * 1024)
