"""Memory of a long-running extractor fed words it never saw (names, phone numbers, typos).

spaCy keeps every word a tokenizer sees; the extractor tokenises messages with a tokenizer it
replaces after READER_NEW_WORDS new words (nlu/pipeline.py). This prints the resident memory after
each batch of messages that each carry two new words, so growth without end would show.

    python scripts/vocab_growth.py --batches 6 --messages 40000
"""

from __future__ import annotations

import argparse
import gc
import random
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu.pipeline import Extractor
from tools.catalog import DEFAULT_CATALOG, load_catalog


def resident_mb() -> int:
    """The process's resident memory (Linux /proc), in MB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--messages", type=int, default=40000, help="messages per batch")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    extractor = Extractor.build(load_catalog(str(DEFAULT_CATALOG)))
    extractor.extract("hola, busco un jetta")
    rng = random.Random(args.seed)
    print(f"start          {resident_mb()} MB")
    for batch in range(1, args.batches + 1):
        for _ in range(args.messages):
            name = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
            extractor.extract(f"me llamo {name} mi cel es 55{rng.randrange(10**8):08d}")
        gc.collect()
        print(f"after batch {batch}  {resident_mb()} MB ({batch * args.messages:,} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
