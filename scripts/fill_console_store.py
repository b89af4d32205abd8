"""Fill a store with synthetic conversations and time the console's pages on it.

    .venv/bin/python scripts/fill_console_store.py --users 10000 --turns 100000 \\
        --store sqlite:////tmp/console.db

Real turns come first: a few dozen customer sessions run through the engine (so intents, topics,
slots, car lists, plans and replies are the bot's own); they are then replayed for `--users`
customers at random moments of the last `--days` days, with a handoff for some of them. Then each
console page is rendered `--repeat` times through the app (as a request from this machine) and
its median and slowest times are printed. `--time-only` skips the filling.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialog.engine import Engine
from dialog.runtime import Runtime, RuntimePaths
from dialog.state import ConversationState
from dialog.store import MemoryStore, Store, open_store
from dialog.store.base import Handoff, Turn

SESSIONS = (
    (
        "hola",
        "busco un jetta 2019 de menos de 350 mil",
        "el segundo",
        "¿tiene carplay?",
        "con 50 mil de enganche a 4 años",
        "quiero hablar con un asesor",
        "Laura Méndez",
        "en la tarde",
    ),
    (
        "buenas tardes",
        "tienen camionetas familiares?",
        "la más barata",
        "¿dónde tienen sucursales?",
        "gracias",
    ),
    (
        "busco un tesla model 3",
        "¿aceptan mi auto a cuenta?",
        "tengo un versa 2016",
        "cual es la capital de francia",
    ),
    (
        "¿tienen garantía?",
        "¿puedo devolverlo?",
        "busco un mazda 3 automático",
        "el 1",
        "¿cuánto pagaría al mes con 20% de enganche?",
        "me interesa, llámenme",
        "soy Jorge Medina",
        "mañana en la mañana",
    ),
    (
        "qué onda",
        "ocupo una pickup diesel",
        "algo más barato",
        "el tercero",
        "y el clima hoy?",
        "ok bye",
    ),
    (
        "hola quiero vender mi carro",
        "es un aveo 2015",
        "¿cuánto me dan?",
        "¿cómo es la inspección?",
    ),
    ("¿tienen bmw serie 3?", "¿y audi a4?", "busco un rav4 híbrido", "¿hacen envíos a mérida?"),
    ("me pueden ayudar con mi app?", "no puedo entrar a mi cuenta", "asdfgh", "gracias"),
)
CONSOLE_PAGES = (
    ("overview", "/console/"),
    ("conversations", "/console/conversations"),
    ("conversations page 300", "/console/conversations?page=300"),
    ("search text 'jetta'", "/console/conversations?q=jetta"),
    ("search phone '5512'", "/console/conversations?q=5512"),
    ("transcript", None),
    ("leads", "/console/leads"),
    ("leads CSV", "/console/leads.csv"),
    ("not understood", "/console/review"),
)


def sample_turns(catalog: Path) -> list[list[Turn]]:
    """Each session of SESSIONS as the engine answers it."""
    store = MemoryStore()
    engine = Engine(Runtime(RuntimePaths(catalog=catalog)), store)
    sessions = []
    for index, texts in enumerate(SESSIONS):
        user = f"sample-{index}"
        for text in texts:
            engine.handle(user, text)
        sessions.append(store.history(user, 100))
    return sessions


def fill(
    store: Store, sessions: list[list[Turn]], users: int, turns: int, days: int, seed: int
) -> int:
    """`turns` turns spread over `users` customers; returns the handoffs written."""
    chooser, now = random.Random(seed), datetime.now(UTC)
    per_user = max(1, turns // users)
    handoffs = 0
    for index in range(users):
        user = f"5215{(index * 7919 + seed) % 10**9:09d}"  # unique for each index
        start = now - timedelta(seconds=chooser.uniform(60, days * 86400))
        session = chooser.choice(sessions)
        written = []
        for number in range(per_user + (1 if index < turns - per_user * users else 0)):
            template = session[number % len(session)]
            at = min(start + timedelta(seconds=40 * number), now)
            latency = round(chooser.lognormvariate(-0.7, 0.6), 3)
            written.append(
                template.model_copy(update={"user": user, "at": at, "latency_ms": latency})
            )
        state = ConversationState(user=user, turns=len(written), updated_at=written[-1].at)
        lead = None
        if any(turn.intent == "human_agent" for turn in written) and chooser.random() < 0.5:
            name = chooser.choice(("Laura Méndez", "Jorge Medina", "Ana López", "Óscar Peña"))
            lead = Handoff(
                user=user,
                name=name,
                phone=user[-10:],
                contact_time="por la tarde",
                car="Volkswagen Jetta 2019 · $289,999",
                at=written[-1].at,
                plan={
                    "price": 289999,
                    "down_payment": 50000,
                    "term_months": 48,
                    "monthly_payment": 6890.5,
                    "rate": 0.16,
                },
            )
            handoffs += 1
        _write(store, state, written, lead)
    return handoffs


def _write(store: Store, state: ConversationState, turns: list[Turn], lead: Handoff | None):
    """One transaction per customer on SQLite (its private helpers: this is a fixture writer)."""
    if hasattr(store, "_transaction"):
        with store._transaction():  # type: ignore[attr-defined]
            store._save_state(state)  # type: ignore[attr-defined]
            for turn in turns:
                store._append_turn(turn)  # type: ignore[attr-defined]
    else:
        store.save_state(state)
        for turn in turns:
            store.append_turn(turn)
    if lead is not None:
        store.add_handoff(lead)


def time_pages(store_url: str, catalog: Path, repeat: int) -> None:
    from server import create_app
    from settings import load_settings

    settings = load_settings(
        store_url=store_url,
        catalog_path=catalog,
        admin_token="",
        log_level="ERROR",
        secret_key="fill-console-store",
    )
    app = create_app(settings)
    client = app.test_client()
    store = app.extensions["kavak"].store
    some_user = store.console_conversations("", 0, 1).rows[0].user
    print(f"{'page':<24} {'median ms':>10} {'slowest ms':>11}")
    for name, path in CONSOLE_PAGES:
        path = path or f"/console/conversations/{some_user}"
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        print(f"{name:<24} {statistics.median(timings):>10.1f} {max(timings):>11.1f}")
    app.extensions["kavak"].extras["jobs"].stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="sqlite:////tmp/console-bench.db")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--catalog", default=str(Path(__file__).resolve().parent.parent / "data" / "catalog.csv")
    )
    parser.add_argument("--time-only", action="store_true", help="time the pages, do not fill")
    args = parser.parse_args(argv)
    catalog = Path(args.catalog)
    if not args.time_only:
        started = time.perf_counter()
        store = open_store(args.store)
        sessions = sample_turns(catalog)
        leads = fill(store, sessions, args.users, args.turns, args.days, args.seed)
        store.close()
        print(
            f"filled {args.store}: {args.users} users, {args.turns} turns, {leads} leads "
            f"in {time.perf_counter() - started:.1f} s"
        )
    time_pages(args.store, catalog, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
