"""`python -m dialog validate [DIR]`, `chat [--catalog CSV]`, `bench [...]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dialog.runtime import ROOT, RuntimePaths

EXIT_WORDS = frozenset({"salir", "exit", "quit"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check the YAML configuration")
    validate.add_argument("directory", nargs="?", default=str(ROOT / "config"))
    validate.add_argument("--catalog", default=str(ROOT / "data" / "catalog.csv"))
    validate.add_argument("--knowledge", default=str(ROOT / "data" / "knowledge.yml"))
    chat = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--catalog", default=str(ROOT / "data" / "catalog.csv"))
    chat.add_argument("--user", default="terminal")
    bench = commands.add_parser("bench", help="time whole rule-only turns")
    bench.add_argument("--catalog", default=str(ROOT / "data" / "catalog.csv"))
    bench.add_argument("--turns", type=int, default=5000)
    bench.add_argument("--conversations", help="conversation YAML: print the share of LLM turns")
    bench.add_argument("--hostile", action="store_true", help="time random hostile inputs instead")
    bench.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args)
    from tools.catalog import CatalogError
    from tools.yamlio import YamlError

    try:
        return _chat(args) if args.command == "chat" else _bench(args)
    except (CatalogError, YamlError) as error:  # a missing or broken file: say which, no trace
        print(f"error: {error}", file=sys.stderr)
        return 2


def _bench(args: argparse.Namespace) -> int:
    from dialog.bench import run_bench

    return run_bench(args)


def _paths(args: argparse.Namespace, config_dir: str | None = None) -> RuntimePaths:
    return RuntimePaths(
        config_dir=Path(config_dir) if config_dir else ROOT / "config",
        catalog=Path(args.catalog),
        knowledge=Path(getattr(args, "knowledge", ROOT / "data" / "knowledge.yml")),
    )


def _validate(args: argparse.Namespace) -> int:
    from dialog.runtime import build_bundle
    from tools.catalog import CatalogError
    from tools.yamlio import YamlError

    try:
        build_bundle(_paths(args, args.directory))
    except (YamlError, CatalogError) as error:
        print(error, file=sys.stderr)
        return 1
    print("ok")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from dialog.engine import Engine
    from dialog.runtime import Runtime
    from dialog.store import MemoryStore

    engine = Engine(Runtime(_paths(args)), MemoryStore())
    print("Escribe tu mensaje (salir o Ctrl+D para terminar).")
    for line in sys.stdin:
        if not line.strip():
            continue
        if line.strip().lower() in EXIT_WORDS:
            break
        result = engine.handle(args.user, line)
        print(f"\n{result.reply}\n  [{result.intent}] {result.slots}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
