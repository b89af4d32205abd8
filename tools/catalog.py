"""Catalog loading and validation: one CSV of cars, checked once, indexed once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from tools.vehicles import VehicleLexicon, load_vehicle_lexicon

REQUIRED_COLUMNS = (
    "stock_id",
    "km",
    "price",
    "make",
    "model",
    "year",
    "version",
    "bluetooth",
    "largo",
    "ancho",
    "altura",
    "car_play",
)
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
YEAR_RANGE = (1900, 2100)
MAX_INTEGER = 2**53  # larger ids or km are typos, and would not survive float parsing
YES_VALUES = frozenset({"sí", "si", "yes", "true", "1", "y", "s"})
NO_VALUES = frozenset({"", "no", "false", "0", "n", "nan"})
FLAG_VALUES = dict.fromkeys(YES_VALUES, True) | dict.fromkeys(NO_VALUES, False)

DEFAULT_CATALOG = Path(__file__).resolve().parent.parent / "data" / "catalog.csv"


class CatalogError(ValueError):
    """A catalog file that cannot be used, with the file, row and column at fault."""

    def __init__(self, path: Path | str, message: str, row: int | None = None, column: str = ""):
        self.path, self.row, self.column = str(path), row, column
        where = f"{self.path}"
        if row is not None:
            where += f", line {row}"
        if column:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


class Car(BaseModel):
    """One car of the catalog, as the rest of the product sees it."""

    stock_id: int
    km: int
    price: float
    make: str
    model: str
    year: int
    version: str = ""
    bluetooth: bool = False
    car_play: bool = False
    largo: float | None = None
    ancho: float | None = None
    altura: float | None = None
    # read from the version text and data/vehicles.yml at load, not columns of the CSV
    body_type: str | None = None
    transmission: str | None = None
    fuel: str | None = None
    drive: str | None = None
    style: str | None = None  # "sporty": a sporty version or a coupé
    size: str | None = None  # "small" / "large" by its length (data/vehicles.yml `sizes`)
    seats: int = 5
    seats_source: str = "default"  # "version", "model" (its usual figure) or "default"

    @property
    def title(self) -> str:
        return car_name(self.make, self.model, self.year)

    @property
    def engine(self) -> float | None:
        """The engine's litres, the version's first figure ("2.5 S Grand Touring" -> 2.5)."""
        found = ENGINE.match(self.version)
        return float(found.group(1)) if found else None


ENGINE = re.compile(r"^\s*(\d\.\d)\b")  # a version's first figure is its engine's litres


def car_name(make: str | None, model: str | None, year: int | str | None = None) -> str:
    """'Mazda CX-5 2021', or 'Mazda 3 2019' when the model already carries the make."""
    parts = [make, model, str(year) if year else None]
    if make and model and model.lower().startswith(make.lower()):
        parts = parts[1:]
    return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Catalog:
    """All cars, with column arrays for fast filtering (built once at load)."""

    cars: tuple[Car, ...]
    source: str = ""
    # a size word that spans the others' lengths (data/vehicles.yml `sizes`: "medium" from 4.3 to
    # 4.7 m): its (min, max) length in mm, matched by the length, not by the one size a car has
    size_ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    by_id: dict[int, Car] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {car.stock_id: car for car in self.cars})

    def __len__(self) -> int:
        return len(self.cars)

    def get(self, stock_id: int) -> Car | None:
        return self.by_id.get(stock_id)

    @cached_property
    def makes(self) -> tuple[str, ...]:
        """Canonical make spellings, as written in the file, sorted."""
        return tuple(sorted({car.make for car in self.cars}))

    @cached_property
    def models(self) -> dict[str, str]:
        """Canonical model -> its make (first seen wins if two makes share a name)."""
        result: dict[str, str] = {}
        for car in self.cars:
            result.setdefault(car.model, car.make)
        return result

    @cached_property
    def columns(self) -> dict[str, np.ndarray]:
        """Column arrays aligned with `cars`, for vectorised filters."""
        return {
            "stock_id": np.array([c.stock_id for c in self.cars], dtype=np.int64),
            "km": np.array([c.km for c in self.cars], dtype=np.int64),
            "largo": np.array([np.nan if c.largo is None else c.largo for c in self.cars]),
            "altura": np.array([np.nan if c.altura is None else c.altura for c in self.cars]),
            "engine": np.array([np.nan if c.engine is None else c.engine for c in self.cars]),
            "price": np.array([c.price for c in self.cars], dtype=np.float64),
            "year": np.array([c.year for c in self.cars], dtype=np.int64),
            "make": np.array([c.make.casefold() for c in self.cars], dtype=object),
            "model": np.array([c.model.casefold() for c in self.cars], dtype=object),
            "bluetooth": np.array([c.bluetooth for c in self.cars], dtype=bool),
            "car_play": np.array([c.car_play for c in self.cars], dtype=bool),
            "body_type": np.array([c.body_type or "" for c in self.cars], dtype=object),
            "transmission": np.array([c.transmission or "" for c in self.cars], dtype=object),
            "fuel": np.array([c.fuel or "" for c in self.cars], dtype=object),
            "drive": np.array([c.drive or "" for c in self.cars], dtype=object),
            "style": np.array([c.style or "" for c in self.cars], dtype=object),
            "size": np.array([c.size or "" for c in self.cars], dtype=object),
            "seats": np.array([c.seats for c in self.cars], dtype=np.int64),
        }


def load_catalog(path: Path | str | None = None, vehicles: VehicleLexicon | None = None) -> Catalog:
    """Read and validate a catalog CSV; raise CatalogError naming file, line and column.

    Columns are checked all at once; only a failing check goes back to find its first row.
    Each car gets its body type, transmission and fuel from its version text and the vehicle
    lexicon (data/vehicles.yml).
    """
    path = Path(path) if path else DEFAULT_CATALOG
    frame = _read_frame(path)
    _check_columns(path, frame)
    parsed = {
        column: parse(frame[column].to_numpy(dtype=object)) for column, parse in _PARSERS.items()
    }
    _raise_first_bad_value(path, frame, parsed)
    _check_unique_ids(path, frame, parsed["stock_id"].values)
    vehicles = vehicles or load_vehicle_lexicon()
    ranges = {
        name: (size.min_length_mm, size.max_length_mm)
        for name, size in vehicles.sizes.items()
        if size.spans
    }
    return Catalog(cars=_cars(parsed, vehicles), source=str(path), size_ranges=ranges)


def _read_frame(path: Path) -> pd.DataFrame:
    """All cells as text; the index is the line number minus 1 (blank lines count too)."""
    if not path.is_file():
        raise CatalogError(path, "file not found")
    try:  # header=None: a row with more cells than the header is an error, not a new index
        rows = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError as error:
        raise CatalogError(path, "the file is empty, expected a header", row=1) from error
    except pd.errors.ParserError as error:
        line = re.search(r"line (\d+)", str(error))
        message = f"not a readable CSV ({str(error).strip()})"
        raise CatalogError(path, message, row=int(line[1]) if line else None) from error
    except UnicodeDecodeError as error:
        raise CatalogError(path, f"not UTF-8 text ({error}); save it as UTF-8") from error
    frame = rows.iloc[1:]
    frame.columns = [str(column).strip().lower() for column in rows.iloc[0]]
    frame = frame[(frame != "").any(axis=1)]  # blank lines
    if frame.empty:
        raise CatalogError(path, "the file has a header but no cars", row=2)
    return frame


def _check_columns(path: Path, frame: pd.DataFrame) -> None:
    """Every required column once (header is line 1); extra columns are ignored."""
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise CatalogError(
            path,
            f"missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}",
            row=1,
            column=missing[0],
        )
    repeated = frame.columns[frame.columns.duplicated()].intersection(REQUIRED_COLUMNS)
    if len(repeated):
        raise CatalogError(path, "the column appears twice in the header", 1, repeated[0])


@dataclass(frozen=True)
class _Parsed:
    """One column parsed at once: values, which rows are valid, what a valid value looks like."""

    values: np.ndarray
    ok: np.ndarray
    expected: str


def _numbers(texts: np.ndarray, optional: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Floats, and which are finite and non-negative (or blank, when the column is optional)."""
    parsed = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce")
    values = parsed.to_numpy(dtype=float, copy=True)
    blank = np.zeros(len(texts), dtype=bool)
    for position in np.flatnonzero(np.isnan(values)):  # few: blanks, "$313,999", typos
        values[position] = _lenient_number(texts[position])
        blank[position] = not texts[position].strip()
    ok = np.isfinite(values) & (values >= 0)
    return values, ok | blank if optional else ok


def _lenient_number(text: str) -> float:
    """'$313,999.00' -> 313999.0; NaN when it is not a plain decimal number."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    return float(cleaned) if re.fullmatch(NUMBER_PATTERN, cleaned) else np.nan


def _integers(texts: np.ndarray) -> _Parsed:
    values, ok = _numbers(texts)
    ok &= (np.floor(values) == values) & (values <= MAX_INTEGER)
    return _Parsed(
        np.where(ok, values, 0).astype(np.int64), ok, "expected a whole number (0 or more)"
    )


def _years(texts: np.ndarray) -> _Parsed:
    years = _integers(texts)
    first, last = YEAR_RANGE
    ok = years.ok & (years.values >= first) & (years.values <= last)
    return _Parsed(years.values, ok, f"expected a year between {first} and {last}")


def _prices(texts: np.ndarray) -> _Parsed:
    values, ok = _numbers(texts)
    return _Parsed(values, ok & (values > 0), "expected a positive price")


def _dimensions(texts: np.ndarray) -> _Parsed:
    values, ok = _numbers(texts, optional=True)
    return _Parsed(values, ok, "expected a length in mm or empty")


def _names(texts: np.ndarray) -> _Parsed:
    names = np.array([" ".join(text.split()) for text in texts], dtype=object)
    return _Parsed(names, names != "", "expected a name")


def _versions(texts: np.ndarray) -> _Parsed:
    versions = np.array([text.strip() for text in texts], dtype=object)
    return _Parsed(versions, np.ones(len(texts), dtype=bool), "")


def _flags(texts: np.ndarray) -> _Parsed:
    flags = [FLAG_VALUES.get(text.strip().casefold()) for text in texts]
    values = np.array([flag is True for flag in flags], dtype=bool)
    ok = np.array([flag is not None for flag in flags], dtype=bool)
    return _Parsed(values, ok, "expected 'Sí' or empty")


_PARSERS = {
    "stock_id": _integers,
    "km": _integers,
    "price": _prices,
    "make": _names,
    "model": _names,
    "year": _years,
    "version": _versions,
    "bluetooth": _flags,
    "largo": _dimensions,
    "ancho": _dimensions,
    "altura": _dimensions,
    "car_play": _flags,
}


def _raise_first_bad_value(path: Path, frame: pd.DataFrame, parsed: dict[str, _Parsed]) -> None:
    """The first row with a bad value, and within it the first bad column (file order)."""
    first_bad = {
        column: int(np.argmin(result.ok))
        for column, result in parsed.items()
        if not result.ok.all()
    }
    if not first_bad:
        return
    column = min(first_bad, key=lambda name: (first_bad[name], REQUIRED_COLUMNS.index(name)))
    position = first_bad[column]
    raw = frame[column].iloc[position]
    message = f"{parsed[column].expected}, got {raw!r}" if raw else "empty value"
    raise CatalogError(path, message, _line(frame, position), column)


def _check_unique_ids(path: Path, frame: pd.DataFrame, stock_ids: np.ndarray) -> None:
    repeated = pd.Series(stock_ids).duplicated().to_numpy()
    if not repeated.any():
        return
    position = int(np.argmax(repeated))
    first = int(np.argmax(stock_ids == stock_ids[position]))
    stock_id = int(stock_ids[position])
    message = f"duplicate stock_id {stock_id} (first on line {_line(frame, first)})"
    raise CatalogError(path, message, _line(frame, position), "stock_id")


def _line(frame: pd.DataFrame, position: int) -> int:
    """File line of the position-th record: the header is line 1, blank lines count."""
    return int(frame.index[position]) + 1


def _cars(parsed: dict[str, _Parsed], vehicles: VehicleLexicon) -> tuple[Car, ...]:
    columns = {name: result.values.tolist() for name, result in parsed.items()}
    for name in ("largo", "ancho", "altura"):
        columns[name] = [None if value != value else value for value in columns[name]]  # NaN
    names = list(columns)
    traits: dict[tuple[str, str, str], dict[str, str | None]] = {}
    sizes: dict[tuple, str | None] = {}  # a few lengths repeat across thousands of cars
    cars = []
    for row in zip(*columns.values(), strict=True):
        values = dict(zip(names, row, strict=True))
        key = (values["make"], values["model"], values["version"])
        if key not in traits:
            traits[key] = vehicles.traits(*key).model_dump()
        measure = (values["largo"], traits[key]["body_type"])
        if measure not in sizes:
            sizes[measure] = vehicles.size(*measure)
        cars.append(Car(**values, **traits[key], size=sizes[measure]))
    return tuple(cars)
