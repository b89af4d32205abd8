"""`python -m dialog bench`: time whole rule-only turns (extraction + dialog + search + state)."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from dialog.engine import Engine
from dialog.runtime import ROOT, Runtime, RuntimePaths
from dialog.store import MemoryStore

# A realistic session: search, refine, pick, ask, finance, knowledge, small talk.
SESSION = (
    "hola",
    "busco un jetta 2019 de menos de 350 mil",
    "va, entonces hasta 300 mil",
    "mejor enséñame un versa",
    "el segundo",
    "¿tiene carplay?",
    "con 50 mil de enganche a 4 años",
    "¿y a 3 años?",
    "¿dónde tienen sucursales en guadalajara?",
    "busco una camioneta familiar 2020 en adelante con bluetooth",
    "el 1",
    "¿qué coche me alcanza con 80 mil de enganche y 7 mil al mes?",
    "gracias",
)


def run_bench(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    paths = RuntimePaths(catalog=Path(args.catalog))
    engine = Engine(Runtime(paths), MemoryStore())
    startup = time.perf_counter() - started
    if args.conversations:
        return _llm_share(engine, Path(args.conversations))
    timings = []
    for index in range(args.turns):
        user = f"bench-{index // len(SESSION)}"
        text = SESSION[index % len(SESSION)]
        begin = time.perf_counter()
        engine.handle(user, text)
        timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"catalog: {args.catalog} ({len(engine.runtime.current.services.catalog)} cars)")
    print(f"start-up: {startup:.2f} s")
    print(f"turns: {len(timings)}  p50: {p50:.3f} ms  p99: {p99:.3f} ms  max: {timings[-1]:.3f} ms")
    print(f"throughput: {1000 / statistics.fmean(timings):.0f} turns/s (one thread)")
    return 0


def _llm_share(engine: Engine, path: Path) -> int:
    """Replay every scripted turn; count those that would call the LLM if it were configured."""
    scripts = yaml.safe_load(path.read_text(encoding="utf-8"))
    total = llm_turns = 0
    for script in scripts:
        user = f"share-{script['name']}"
        for turn in script["turns"]:
            result = engine.handle(f"{user}-{turn.get('as', '')}", turn["user"])
            total += 1
            llm_turns += result.llm_used or _would_ask_llm(engine, result)
    share = llm_turns / total if total else 0.0
    print(f"turns: {total}  LLM turns: {llm_turns}  share: {share:.1%}")
    return 0


def _would_ask_llm(engine: Engine, result) -> bool:
    """Without a key nothing is called; the turns that *would* are the no-answer fallbacks."""
    config = engine.runtime.current.config
    no_answer = {route.templates.get("no_answer") for route in config.routes.values()}
    return result.reply in no_answer


__all__ = ["ROOT", "run_bench"]
