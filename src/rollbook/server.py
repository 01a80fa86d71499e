"""`rollbook serve`: gunicorn (threaded workers) around the WSGI application."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

# Recorded in the LMB message log (sis/lmb-log) already, with its message id and outcome; at
# term start hundreds a second, each line costing the server as much as a tenth of the work.
LMB_PATH = "/api/v1/sis/lmb"


class AccessLogger(Logger):
    """gunicorn's access log, less the accepted LMB messages (every refusal is still logged)."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        status = getattr(resp, "status_code", None)
        if req.path == LMB_PATH and req.method == "POST" and status == 200:
            return
        super().access(resp, req, environ, request_time)


def _post_worker_init(worker: Any) -> None:
    # Embedded jobs runner: jobs queued before a restart run again here. Each job is claimed
    # atomically before it runs, so several workers dispatching it still run it once.
    from django.conf import settings

    if settings.JOBS_RUNNER == "embedded":
        from rollbook.jobs import api as jobs

        jobs.dispatch_queued()
        jobs.dispatch_all_tasks()  # e.g. LMB messages accepted before a crash


def _has_setting(name: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == name for setting in KNOWN_SETTINGS)


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from rollbook.wsgi import application

        return application


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": "-",
            "logger_class": AccessLogger,
            "errorlog": "-",
            "post_worker_init": _post_worker_init,
            # Several `rollbook serve` on one box would fight over one control socket path.
            **({"control_socket_disable": True} if _has_setting("control_socket_disable") else {}),
        }
    ).run()
