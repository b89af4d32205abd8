"""gunicorn settings; every value can be overridden by the environment."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs structured lines itself
errorlog = "-"


def post_worker_init(worker) -> None:
    """The worker has built its app: keep the garbage collector off its startup objects."""
    from server import freeze_startup_objects

    freeze_startup_objects()
