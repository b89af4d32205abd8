"""`python -m dialog bench`: time whole rule-only turns (extraction + dialog + search + state)."""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from pathlib import Path

import yaml

from dialog.engine import Engine
from dialog.runtime import ROOT, Runtime, RuntimePaths
from dialog.store import MemoryStore
from tools.llm import LLMResult

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
    if args.conversations:
        return _llm_share(Path(args.conversations), Path(args.catalog))
    started = time.perf_counter()
    paths = RuntimePaths(catalog=Path(args.catalog))
    engine = Engine(Runtime(paths), MemoryStore())
    startup = time.perf_counter() - started
    gc.collect()  # as a serving process does (server.freeze_startup_objects): a full collection
    gc.freeze()  # would otherwise walk the start-up objects once, mid-run (~85 ms)
    texts = _hostile_texts(args.turns, args.seed) if args.hostile else None
    timings = []
    for index in range(args.turns):
        user = f"bench-{index // len(SESSION)}"
        text = texts[index] if texts else SESSION[index % len(SESSION)]
        begin = time.perf_counter()
        engine.handle(user, text)
        timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        "input: "
        + (
            "hostile (random unicode, huge numbers, up to 5,000 chars)"
            if texts
            else "a realistic session, repeated"
        )
    )
    print(f"catalog: {args.catalog} ({len(engine.runtime.current.services.catalog)} cars)")
    print(f"start-up: {startup:.2f} s")
    print(f"turns: {len(timings)}  p50: {p50:.3f} ms  p99: {p99:.3f} ms  max: {timings[-1]:.3f} ms")
    print(f"throughput: {1000 / statistics.fmean(timings):.0f} turns/s (one thread)")
    return 0


PIECES = (
    "999999999999999 mil",
    "millones",
    "el",
    "2",
    "de",
    "🚗",
    "\u202e",
    "\x00",
    "jetta",
    "2019",
    "enganche",
    "al mes",
    "años",
    "segundo",
    "%",
    "$",
    "-",
    "كافاك",
    "\n",
    "k",
)


def _hostile_texts(count: int, seed: int) -> list[str]:
    """Inputs no customer writes but anyone can send: control and RTL characters, emoji,
    huge numbers, repeated tokens, random code points; up to 5,000 characters."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        if rng.random() < 0.5:
            texts.append(" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 900)))[:5000])
        else:
            size = rng.choice((10, 200, 5000))
            texts.append("".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(size)))
    return texts


def _llm_share(path: Path, catalog: Path) -> int:
    """Replay every scripted turn with a counting LLM stand-in; print the share that called it."""
    llm = CountingLLM()
    engine = Engine(Runtime(RuntimePaths(catalog=catalog), llm=llm), MemoryStore())
    scripts = yaml.safe_load(path.read_text(encoding="utf-8"))
    total = llm_turns = 0
    for script in scripts:
        user = f"share-{script['name']}"
        for turn in script["turns"]:
            before = llm.calls
            engine.handle(f"{user}-{turn.get('as', '')}", turn["user"])
            total += 1
            if llm.calls > before:
                llm_turns += 1
                print(f"  LLM: {turn['user']}")
    share = llm_turns / total if total else 0.0
    print(
        f"conversations: {len(scripts)}  turns: {total}  LLM turns: {llm_turns}  share: {share:.1%}"
    )
    return 0


class CountingLLM:
    """Stands in for tools.llm.LLMClient (same methods); counts calls, never leaves the process."""

    enabled = True

    def __init__(self) -> None:
        self.calls = 0

    def set_vocabulary(self, names) -> None:
        pass

    def answer_question(self, question: str, context) -> LLMResult:
        self.calls += 1
        return LLMResult(text="(respuesta del LLM)", used=True)

    def rephrase(self, reply: str, context) -> LLMResult:
        self.calls += 1
        return LLMResult(text=reply, used=True)


__all__ = ["ROOT", "run_bench"]
