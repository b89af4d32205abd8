"""The Flask app factory and the development entry point (`python server.py`).

Production: `gunicorn 'server:create_app()'` (see the Dockerfile). Nothing happens at import time.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import logging
import sys
import time

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler

from api.channel import WhatsAppChannel
from api.context import AppContext
from api.dispatcher import UserOrderedDispatcher
from api.jobs import JobQueue
from api.logs import configure_logging
from api.metrics import AppMetrics
from console import register as register_console
from dialog.engine import Engine
from dialog.runtime import Runtime, RuntimePaths
from dialog.store import STORE_UNAVAILABLE, Store, open_store
from settings import Settings, exposure_problems, load_settings, refuse_in_production

log = logging.getLogger("server")
access_log = logging.getLogger("access")


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    llm=None,
    whatsapp=None,
    metrics: AppMetrics | None = None,
) -> Flask:
    """Build the app from settings; stores and clients are made here and passed in."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    metrics = metrics or AppMetrics()
    store = store or open_store(settings.store_url, redis_prefix=settings.redis_key_prefix)
    _check_durability(settings, store)
    llm = llm if llm is not None else _build_llm(settings, metrics, store)
    paths = RuntimePaths(
        config_dir=settings.config_dir,
        catalog=settings.catalog_path,
        knowledge=settings.knowledge_path,
    )
    runtime = Runtime(paths, llm=llm)
    engine = Engine(runtime, store, rephrase=settings.llm_rephrase)
    whatsapp = whatsapp or _build_whatsapp(settings)
    context = AppContext(
        settings=settings,
        store=store,
        runtime=runtime,
        engine=engine,
        metrics=metrics,
        whatsapp=whatsapp,
    )
    jobs = _build_jobs(settings, store, WhatsAppChannel(engine, store, whatsapp, metrics), metrics)
    context.extras.update(channel=jobs.channel, dispatcher=jobs.dispatcher, jobs=jobs)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["kavak"] = context
    _register_blueprints(app)
    register_console(app, context)
    _register_errors(app)
    _register_access_log(app)
    _log_start(settings, runtime)
    _start_jobs(jobs)
    return app


def _build_jobs(settings: Settings, store: Store, channel: WhatsAppChannel, metrics) -> JobQueue:
    from tools.whatsapp import longest_send_seconds

    dispatcher = UserOrderedDispatcher(
        workers=settings.turn_threads, synchronous=not settings.workers_async
    )
    longest_send = longest_send_seconds(
        settings.whatsapp_timeout, settings.whatsapp_max_retries, settings.whatsapp_backoff
    )
    return JobQueue(store, channel, dispatcher, settings, metrics, send_seconds=longest_send)


def _start_jobs(jobs: JobQueue) -> None:
    """Recover what a previous process left, then keep leases and recovery going on a timer."""
    try:
        jobs.recover()
    except STORE_UNAVAILABLE as error:  # the store may be down at start: the timer retries
        log.error("start-up recovery failed: %s", type(error).__name__)
    jobs.start()
    atexit.register(jobs.dispatcher.shutdown)  # a graceful stop finishes the turns accepted


def _check_durability(settings: Settings, store: Store) -> None:
    """A store that forgets on restart is an ERROR (refused with APP_ENV=production)."""
    try:
        problems = store.durability_problems()
    except STORE_UNAVAILABLE as error:  # down at start: the app answers 503 until it is back
        log.warning("could not check the store's persistence: %s", type(error).__name__)
        return
    refuse_in_production(settings, problems, log)


def _build_llm(settings: Settings, metrics: AppMetrics, store: Store):
    from tools.llm import LLMClient, LLMSettings, PrometheusLLMMetrics

    return LLMClient(
        LLMSettings(
            api_key=settings.openai_api_key or None,
            base_url=settings.openai_base_url or None,
            model=settings.openai_model,
            timeout=settings.openai_timeout,
        ),
        metrics=PrometheusLLMMetrics(metrics.registry),
        counter=store.count_event,  # hourly budgets shared by every worker
    )


def _build_whatsapp(settings: Settings):
    from tools.whatsapp import WhatsAppClient

    return WhatsAppClient(
        api_base=settings.whatsapp_api_base,
        phone_number_id=settings.whatsapp_phone_number_id,
        access_token=settings.whatsapp_access_token,
        timeout=settings.whatsapp_timeout,
        max_retries=settings.whatsapp_max_retries,
        backoff=settings.whatsapp_backoff,
    )


def _register_blueprints(app: Flask) -> None:
    from api import admin, chat, health, metrics, webhook

    for blueprint in (chat.bp, health.bp, admin.bp, metrics.bp, webhook.bp):
        app.register_blueprint(blueprint)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = jsonify(error=error.name.lower().replace(" ", "_"), reason=error.description)
        response.status_code = error.code or 500
        return response

    def store_down(error: Exception):
        log.error("store unavailable: %s", type(error).__name__)
        response = jsonify(error="store_unavailable", reason="state store unavailable; retry later")
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    for unavailable in STORE_UNAVAILABLE:
        app.register_error_handler(unavailable, store_down)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error")
        response = jsonify(error="internal_error", reason="unexpected error; see the server log")
        response.status_code = 500
        return response


def _register_access_log(app: Flask) -> None:
    """One line per request naming its route, not its path or query: '/admin/users/<phone>', never
    the phone; '/webhook', never its hub.verify_token."""

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def logged(response):
        if access_log.isEnabledFor(logging.INFO):
            route = request.url_rule.rule if request.url_rule else "(no route)"
            milliseconds = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            access_log.info("%s %s %d", request.method, route, response.status_code,
                            extra={"ms": round(milliseconds, 1)})  # fmt: skip
        return response


class QuietRequestHandler(WSGIRequestHandler):
    """The development server's handler without werkzeug's access log, which printed each path
    and query string (phones, hub.verify_token) as it came: the app logs requests itself."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Logged by the app's access log instead."""

    def log_error(self, format: str, *args) -> None:
        access_log.warning("malformed request: %s", format % tuple(map(str, args)))


def _log_start(settings: Settings, runtime: Runtime) -> None:
    catalog = runtime.current.services.catalog
    log.info(
        "assistant ready: %d cars from %s, store %s, LLM %s",
        len(catalog),
        catalog.source,
        settings.store_url.split("@")[-1],
        "on" if settings.llm_enabled else "off (no OPENAI_API_KEY)",
    )
    if not settings.whatsapp_enabled:
        log.warning(
            "WhatsApp sending is disabled: set WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID"
        )
    if not settings.whatsapp_app_secret:
        log.warning("WHATSAPP_APP_SECRET is not set: webhook signatures are NOT verified")


def freeze_startup_objects() -> None:
    """Call once the app is built, in a serving process (not in tests, which build many apps).

    The app holds ~190,000 long-lived objects (spaCy's vocabulary, the catalog, the YAML config);
    a full collection walks them all (~135 ms here) and would stall whichever turns are running.
    Freezing them leaves the collector only what turns create."""
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the assistant's development server.")
    parser.add_argument("--catalog", help="catalog CSV (default: CATALOG_PATH or data/catalog.csv)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in {
            "catalog_path": args.catalog,
            "host": args.host,
            "port": args.port,
        }.items()
        if value
    }
    from tools.catalog import CatalogError
    from tools.yamlio import YamlError

    try:
        settings = load_settings(**overrides)
        configure_logging(settings.log_level)
        refuse_in_production(settings, exposure_problems(settings, [settings.host]), log)
        app = create_app(settings)
    except (CatalogError, YamlError) as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    freeze_startup_objects()
    app.run(host=settings.host, port=settings.port, threaded=True,
            request_handler=QuietRequestHandler)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
