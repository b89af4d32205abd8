"""gunicorn settings; every value can be overridden by the environment."""

import os
import shutil
import tempfile

# Metrics of every worker in one /metrics (prometheus_client's multiprocess mode): each worker
# writes its counters to files here; the variable must be set before any worker imports it.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kavak-metrics-")

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# gthread that reads each request whole in its event loop before a thread sees it: slow clients
# cannot hold the threads (REQUEST_READ_TIMEOUT, default 15 s, then 408)
worker_class = "api.buffered_worker.BufferedThreadWorker"
worker_connections = 256  # per worker, each buffering at most MAX_BODY_BYTES
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs structured lines itself
errorlog = "-"
# gunicorn's control socket (gunicornc) would go to ~/.gunicorn/: only where it is asked for
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def _bound_hosts(binds: list[str]) -> list[str]:
    """'0.0.0.0:5000' -> '0.0.0.0'; '[::1]:5000' -> '::1'; a unix socket is this machine only."""
    hosts = []
    for address in binds:
        if address.startswith(("unix:", "fd://")):
            continue
        hosts.append(address.rsplit(":", 1)[0] if ":" in address else address)
    return hosts


def on_starting(server) -> None:
    """Before binding: an exposed server without its secrets is an ERROR (refused in production)."""
    from settings import exposure_problems, load_settings, refuse_in_production

    settings = load_settings()
    refuse_in_production(settings, exposure_problems(settings, _bound_hosts(server.cfg.bind)),
                         server.log)  # fmt: skip


def child_exit(server, worker) -> None:
    """A worker's counters stay counted after it exits; its live gauges (none yet) would not."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker) -> None:
    """The worker has built its app: keep the garbage collector off its startup objects."""
    from server import freeze_startup_objects

    freeze_startup_objects()
