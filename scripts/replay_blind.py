"""Replay the customer messages of blind rounds through this checkout, and compare two replays.

A blind round is judged once, on the code of its day. To see what later code does with the same
customers, replay their messages in order (each customer its own conversation) through the app
in-process, then compare two checkouts' replies:

    (cd ../base && python ../main/scripts/replay_blind.py replay /tmp/base.json ROUND.jsonl ...)
    python scripts/replay_blind.py replay /tmp/head.json data/blind_conversations/*round41.jsonl
    python scripts/replay_blind.py compare /tmp/base.json /tmp/head.json

The comparison counts the replies that differ, the fallbacks and the "not confirmed" answers, and
lists the turns judged good whose reply changed (to read them: a change may be a regression).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

FALLBACK = re.compile(r"didn't understand|no te entend")
UNCONFIRMED = re.compile(r"no lo tengo confirmado|don't have that confirmed|no lo tengo a la mano")


def replay(out: Path, rounds: list[Path], catalog: str) -> None:
    sys.path.insert(0, os.getcwd())  # the checkout the command runs in
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ["CATALOG_PATH"] = catalog
    os.environ["STORE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/replay.db"
    from server import create_app

    client = create_app().test_client()
    replies: dict[str, dict] = {}
    for path in rounds:
        customers: dict[str, list[dict]] = defaultdict(list)
        for line in path.read_text(encoding="utf-8").splitlines():
            turn = json.loads(line)
            customers[turn["customer"]].append(turn)
        for customer, turns in customers.items():
            for turn in sorted(turns, key=lambda t: t["turn"]):
                text = turn.get("user_text", turn.get("user", ""))  # rounds name it either way
                body = {"user": f"replay-{path.stem}-{customer}", "text": text}
                answer = client.post("/chat", json=body).get_json()
                replies[f"{path.stem}|{customer}|{turn['turn']}"] = {
                    "user": text,
                    "verdict": turn["verdict"],
                    "judged": turn.get("bot_reply", turn.get("bot", "")),
                    "reply": answer.get("reply", ""),
                }
    out.write_text(json.dumps(replies, ensure_ascii=False), encoding="utf-8")
    print(f"{len(replies)} turns replayed into {out}")


def compare(before: Path, after: Path) -> None:
    old = json.loads(before.read_text(encoding="utf-8"))
    new = json.loads(after.read_text(encoding="utf-8"))
    keys = sorted(old.keys() & new.keys())
    differ = [key for key in keys if old[key]["reply"] != new[key]["reply"]]
    print(f"turns {len(keys)}, replies that differ {len(differ)}")
    for name, pattern in (("fallback", FALLBACK), ("not confirmed", UNCONFIRMED)):
        count = [sum(bool(pattern.search(side[k]["reply"])) for k in keys) for side in (old, new)]
        print(f"{name}: {count[0]} -> {count[1]}")
    for verdict in ("bad", "partial", "good"):
        judged = [key for key in keys if old[key]["verdict"] == verdict]
        changed = sum(old[key]["reply"] != new[key]["reply"] for key in judged)
        print(f"judged {verdict}: {len(judged)}, changed {changed}")
    print("\nturns judged good whose reply changed:")
    for key in (key for key in differ if old[key]["verdict"] == "good"):
        print(f"== {key} {new[key]['user'][:120]}")
        print("   before:", old[key]["reply"][:160].replace("\n", " / "))
        print("   after: ", new[key]["reply"][:160].replace("\n", " / "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("replay", help="replay rounds through the checkout in the cwd")
    run.add_argument("out", type=Path)
    run.add_argument("rounds", type=Path, nargs="+")
    run.add_argument("--catalog", default="../shared/data/kavak_sample_catalog.csv")
    both = commands.add_parser("compare", help="compare two replays")
    both.add_argument("before", type=Path)
    both.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "replay":
        replay(args.out, args.rounds, str(Path(args.catalog).resolve()))
    else:
        compare(args.before, args.after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
