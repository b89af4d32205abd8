"""Messages the bot did not understand, grouped by similarity for review.

A message is here when it fell to the fallback route or to `out_of_scope`, or the nearest
examples decided it scoring below `min_score + REVIEW_MARGIN` (config/intents.yml `classifier`).
Messages are compared folded ("¿Dónde?" = "donde"); near-identical ones (rapidfuzz's
token_sort_ratio at least SIMILARITY) share a group. A group once added as an example or ignored
is marked by the hash of each of its texts, never by the text itself, and leaves the list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy
from rapidfuzz import fuzz, process

from api.context import AppContext
from nlu.text import normalize

REVIEW = "review"  # console record kind: a text added as an example or ignored
DAYS = 30
TURNS_READ = 2000  # the newest turns to review in the window
SIMILARITY = 82


@dataclass
class Group:
    key: str  # the hash of its first text
    text: str  # the most frequent wording, as the customer wrote it
    count: int = 0
    latest: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))
    intents: set[str] = field(default_factory=set)
    variants: list[tuple[str, int]] = field(default_factory=list)  # (text, times)
    keys: list[str] = field(default_factory=list)  # hashes of every text of the group


@dataclass
class _Text:
    text: str
    count: int
    latest: datetime
    intents: set[str]


def text_key(text: str) -> str:
    folded = normalize(text) or " ".join(text.split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]


def review_bar(context: AppContext) -> float:
    """The score an example-stage decision needs to stay out of review."""
    settings = context.runtime.current.services.extractor.classifier.settings
    return settings.min_score + context.settings.review_margin


def groups(context: AppContext) -> list[Group]:
    """Groups of similar messages not reviewed yet, the most frequent first."""
    store = context.store
    since = datetime.now(UTC) - timedelta(days=DAYS)
    marked = store.console_all(REVIEW)
    texts: dict[str, _Text] = {}
    for turn in store.console_review(since, review_bar(context), TURNS_READ):
        key = text_key(turn.text_in)
        if key in marked or not turn.text_in.strip():
            continue
        known = texts.get(key)
        if known is None:
            texts[key] = _Text(turn.text_in, 1, turn.at, {turn.intent or "fallback"})
        else:
            known.count += 1
            known.latest = max(known.latest, turn.at)
            known.intents.add(turn.intent or "fallback")
    return _cluster(texts)


def _cluster(texts: dict[str, _Text]) -> list[Group]:
    """Greedy: each text joins the group of the first more frequent text it resembles."""
    keys = sorted(texts, key=lambda key: (-texts[key].count, texts[key].text))
    folded = [normalize(texts[key].text) for key in keys]
    similar = (
        process.cdist(
            folded, folded, scorer=fuzz.token_sort_ratio, score_cutoff=SIMILARITY, workers=-1
        )
        if keys
        else []
    )
    found: list[Group] = []
    by_leader: dict[int, Group] = {}
    for index, key in enumerate(keys):
        near = numpy.flatnonzero(similar[index, :index]) if index else ()
        leader = next((int(j) for j in near if int(j) in by_leader), index)
        item = texts[key]
        if leader == index:
            by_leader[index] = Group(key=key, text=item.text)
            found.append(by_leader[index])
        group = by_leader[leader]
        group.count += item.count
        group.latest = max(group.latest, item.latest)
        group.intents |= item.intents
        group.variants.append((item.text, item.count))
        group.keys.append(key)
    return sorted(found, key=lambda group: (-group.count, -group.latest.timestamp()))


def mark(context: AppContext, keys: list[str], action: str, label: str = "") -> None:
    """Take these texts off the list: added as an example of `label`, or ignored."""
    at = datetime.now(UTC).isoformat()
    for key in keys:
        context.store.console_put(REVIEW, key, {"action": action, "label": label, "at": at})
