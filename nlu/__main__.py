"""python -m nlu extract|eval|bench — the extractor from the command line."""

from __future__ import annotations

import time

_IMPORT_STARTED = time.perf_counter()  # start-up includes importing spaCy and pandas

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from nlu.evaluation import CASES, SCREENS, evaluate, leave_one_out, load_cases  # noqa: E402
from nlu.pipeline import Extractor  # noqa: E402
from tools.catalog import DEFAULT_CATALOG, CatalogError, load_catalog  # noqa: E402
from tools.yamlio import YamlError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="print the JSON extraction of a message")
    extract.add_argument("text", nargs="?", help="the message; omitted: one message per stdin line")
    extract.add_argument(
        "--context",
        choices=SCREENS,
        help="read the message as if a list was just shown, a car chosen, a plan shown or a "
        "lead sent (the screens of data/nlu_cases.yml)",
    )
    evaluation = commands.add_parser("eval", help="regression cases: per-slot P/R/F1")
    evaluation.add_argument("cases", nargs="*", help=f"case files (default {CASES.name})")
    evaluation.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluation.add_argument("--tag", help="only cases for this catalog tag (bundled, kavak)")
    evaluation.add_argument(
        "--loo", action="store_true", help="also leave-one-out accuracy over the YAML examples"
    )
    evaluation.add_argument(
        "--ignore-slot", action="append", default=[], help="a slot the case files do not label"
    )
    evaluation.add_argument("--failures", type=int, default=200, help="failures to print")
    bench = commands.add_parser("bench", help="latency, throughput and start-up time")
    bench.add_argument("--messages", type=int, default=20000)
    for command in (extract, evaluation, bench):
        command.add_argument("--catalog", help="catalog CSV (default: CATALOG_PATH or bundled)")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CatalogError, YamlError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _catalog_path(args: argparse.Namespace) -> str:
    import os

    return args.catalog or os.environ.get("CATALOG_PATH") or str(DEFAULT_CATALOG)


def _extractor(args: argparse.Namespace) -> Extractor:
    return Extractor.build(load_catalog(_catalog_path(args)))


def run_extract(args: argparse.Namespace) -> int:
    from nlu.evaluation import Case, case_context

    catalog = load_catalog(_catalog_path(args))
    extractor = Extractor.build(catalog)

    def read(text: str) -> dict:
        context = case_context(Case(text=text, context=args.context), catalog)
        return extractor.extract(text, context).to_json()

    if args.text is not None:
        print(json.dumps(read(args.text), ensure_ascii=False))
        return 0
    for line in sys.stdin:
        found = read(line.rstrip("\n"))
        print(json.dumps(found, ensure_ascii=False), flush=False)
    sys.stdout.flush()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    catalog = load_catalog(_catalog_path(args))
    extractor = Extractor.build(catalog)
    tag = args.tag or _tag_for(_catalog_path(args))
    cases = [
        case
        for path in (args.cases or [CASES])
        for case in load_cases(path)
        if tag in case.catalogs
    ]
    report = evaluate(extractor, cases, catalog, tuple(args.ignore_slot))
    summary = report.summary()
    if args.loo:
        accuracy, total, misses = leave_one_out(extractor, catalog)
        summary["loo"] = {"accuracy": accuracy, "examples": total, "misses": misses}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_report(summary, args.failures)
    return 0 if report.ok else 1


def _tag_for(catalog_path: str) -> str:
    return "bundled" if Path(catalog_path).resolve() == DEFAULT_CATALOG.resolve() else "kavak"


def _print_report(summary: dict, max_failures: int) -> None:
    _table("slot", summary["slots"])
    print()
    _table("label", summary["labels"])
    if summary["confusions"]:
        print("\nmost frequent confusions (expected -> got)")
        for row in summary["confusions"]:
            print(f"  {row['count']:>4}  {row['expected']} -> {row['got']}")
    stages = "  ".join(f"{stage} {share:.1%}" for stage, share in sorted(summary["stages"].items()))
    print(f"\ndecided by: {stages}")
    if "loo" in summary:
        loo = summary["loo"]
        print(f"leave-one-out over {loo['examples']} YAML examples: accuracy {loo['accuracy']:.3f}")
        for label, text, got in loo["misses"][:max_failures]:
            print(f"  LOO {text!r} of {label} -> {got}")
    print(
        f"\ncases {summary['cases']}  exact match {summary['exact_match']:.3f}  "
        f"slot micro-F1 {summary['slot_micro_f1']:.3f}  intent accuracy "
        f"{summary['intent_accuracy']:.3f}  topic accuracy {summary['topic_accuracy']:.3f}  "
        f"second accuracy {summary['second_accuracy']:.3f}"
    )
    for failure in summary["failures"][:max_failures]:
        print(
            f"FAIL {failure['text']!r} [{failure['slot']}] "
            f"expected {failure['expected']!r} got {failure['got']!r}"
        )
    hidden = len(summary["failures"]) - max_failures
    if hidden > 0:
        print(f"... and {hidden} more failures (--failures N)")


def _table(title: str, rows: dict) -> None:
    print(f"{title:<32}{'precision':>10}{'recall':>9}{'f1':>8}{'support':>9}")
    for name, score in rows.items():
        print(
            f"{name:<32}{score['precision']:>10.3f}{score['recall']:>9.3f}"
            f"{score['f1']:>8.3f}{score['support']:>9}"
        )


def run_bench(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    extractor = _extractor(args)
    build = time.perf_counter() - started
    startup = time.perf_counter() - _IMPORT_STARTED
    texts = [case.text for case in load_cases()]
    messages = [
        texts[i % len(texts)] + ("" if i < len(texts) else f" {i}") for i in range(args.messages)
    ]
    for text in texts:  # warm caches the way a running server has them
        extractor.extract(text)
    timings = []
    clock = time.perf_counter
    begun = clock()
    for text in messages:
        t0 = clock()
        extractor.extract(text)
        timings.append(clock() - t0)
    total = clock() - begun
    timings.sort()
    print(f"catalog        {_catalog_path(args)} ({len(extractor.vocabulary.phrases)} phrases)")
    print(
        f"start-up       {startup:.3f} s (imports + catalog + extractor; build alone {build:.3f} s)"
    )
    print(f"messages       {len(messages)}")
    print(f"p50            {timings[len(timings) // 2] * 1000:.3f} ms")
    print(f"p99            {timings[int(len(timings) * 0.99)] * 1000:.3f} ms")
    print(f"throughput     {len(messages) / total:,.0f} messages/s")
    return 0


COMMANDS = {"extract": run_extract, "eval": run_eval, "bench": run_bench}

if __name__ == "__main__":
    sys.exit(main())
