"""Places for the `city` slot (data/nlu/places.yml): "mty" -> Monterrey, "en Santa Fe" -> Santa Fe
(the CDMX area), and the Kavak areas nearest a city that has no branch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nlu.lexicon import Places
from nlu.text import fold

EARTH_KM = 6371.0


class PlaceIndex:
    def __init__(self, places: Places):
        self.data = places
        self.prepositions = [fold(word).split() for word in places.prepositions]
        self.trips = [fold(word).split() for word in places.trip_words]
        self.needs_preposition = {
            name for name, place in places.places.items() if place.needs_preposition
        }

    def phrase_groups(self) -> Iterator[tuple[str, list[str]]]:
        for name, place in self.data.places.items():
            yield f"place|{name}", [name, *place.aliases]

    def read(self, tokens: list[str], spans, taken: list[bool], bare: bool = False) -> str | None:
        """The first place named (claiming its words), or None; `bare` (just after the places
        were talked of) takes a name that otherwise needs a preposition ("ok, Santa Fe")."""
        for key, start, end in sorted(spans, key=lambda span: (span[1], span[1] - span[2])):
            name = key.partition("|")[2]
            if any(taken[start:end]):
                continue
            needs = name in self.needs_preposition and not bare
            if needs and not self._after_preposition(tokens, start):
                continue
            if _after(tokens, start, self.trips):
                continue  # "viajes a saltillo y la escuela": where they drive, not where they are
            taken[start:end] = [True] * (end - start)
            return name
        return None

    def _after_preposition(self, tokens: list[str], start: int) -> bool:
        return _after(tokens, start, self.prepositions)

    def area_of(self, name: str | None) -> str | None:
        place = self.data.places.get(name or "")
        return place.area if place else None

    def branch_near(self, name: str | None) -> str | None:
        """The branch nearest a neighbourhood or town of an area ("Polanco" -> "Antara")."""
        place = self.data.places.get(name or "")
        return place.near if place else None

    def is_branch(self, name: str | None) -> bool:
        """A branch named by its own name ("la sucursal de Santa Fe", "la de Explanada")."""
        place = self.data.places.get(name or "")
        return bool(place and place.branch)

    def nearest_areas(self, name: str, count: int = 2) -> list[tuple[str, float]]:
        """Kavak areas by distance from a place without one: [('Querétaro', 180.0), ...]."""
        place = self.data.places.get(name)
        if place is None or place.lat is None or place.lon is None:
            return []
        distances = [
            (area, _km(place.lat, place.lon, spot.lat, spot.lon))
            for area, spot in self.data.areas.items()
        ]
        return sorted(distances, key=lambda item: item[1])[:count]


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


def _after(tokens: list[str], start: int, phrases: list[list[str]]) -> bool:
    """One of `phrases` ends right before `start`."""
    return any(
        start >= len(words) and tokens[start - len(words) : start] == words for words in phrases
    )
