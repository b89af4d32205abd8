"""Catalog loading and validation: one CSV of cars, checked once, indexed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

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
INTEGER_COLUMNS = ("stock_id", "km", "year")
NUMBER_COLUMNS = ("price",)
OPTIONAL_NUMBER_COLUMNS = ("largo", "ancho", "altura")
TEXT_COLUMNS = ("make", "model")
YES_VALUES = frozenset({"sí", "si", "yes", "true", "1", "y", "s"})
NO_VALUES = frozenset({"", "no", "false", "0", "n", "nan"})

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

    @property
    def title(self) -> str:
        """'Mazda CX-5 2021', or 'Mazda 3 2019' when the model already carries the make."""
        if self.model.lower().startswith(self.make.lower()):
            return f"{self.model} {self.year}"
        return f"{self.make} {self.model} {self.year}"


@dataclass(frozen=True)
class Catalog:
    """All cars, with column arrays for fast filtering (built once at load)."""

    cars: tuple[Car, ...]
    source: str = ""
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
            "price": np.array([c.price for c in self.cars], dtype=np.float64),
            "year": np.array([c.year for c in self.cars], dtype=np.int64),
            "make": np.array([c.make.casefold() for c in self.cars], dtype=object),
            "model": np.array([c.model.casefold() for c in self.cars], dtype=object),
            "bluetooth": np.array([c.bluetooth for c in self.cars], dtype=bool),
            "car_play": np.array([c.car_play for c in self.cars], dtype=bool),
        }


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read and validate a catalog CSV; raise CatalogError naming file, line and column."""
    path = Path(path) if path else DEFAULT_CATALOG
    frame = _read_frame(path)
    _check_columns(path, frame)
    records = frame.to_dict("records")
    cars = tuple(_row_to_car(path, line, row) for line, row in enumerate(records, start=2))
    _check_unique_ids(path, cars)
    return Catalog(cars=cars, source=str(path))


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CatalogError(path, "file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as error:
        raise CatalogError(path, "the file is empty") from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CatalogError(path, f"not a readable CSV ({error})") from error
    if frame.empty:
        raise CatalogError(path, "the file has a header but no cars")
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    return frame


def _check_columns(path: Path, frame: pd.DataFrame) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise CatalogError(
            path, f"missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}"
        )


def _row_to_car(path: Path, line: int, row: dict[str, str]) -> Car:
    """One CSV record (line numbers count the header as line 1) to a validated Car."""
    values: dict[str, object] = {"version": str(row["version"]).strip()}
    for column in INTEGER_COLUMNS:
        values[column] = int(_number(path, line, column, row[column]))
    for column in NUMBER_COLUMNS:
        values[column] = _number(path, line, column, row[column])
    for column in OPTIONAL_NUMBER_COLUMNS:
        text = str(row[column]).strip()
        values[column] = _number(path, line, column, text) if text else None
    for column in TEXT_COLUMNS:
        text = " ".join(str(row[column]).split())
        if not text:
            raise CatalogError(path, "empty value", line, column)
        values[column] = text
    for column in ("bluetooth", "car_play"):
        values[column] = _flag(path, line, column, row[column])
    if values["price"] <= 0:
        raise CatalogError(path, f"price must be positive, got {row['price']!r}", line, "price")
    return Car(**values)


def _number(path: Path, line: int, column: str, raw: object) -> float:
    text = str(raw).strip().replace(",", "").replace("$", "")
    try:
        value = float(text)
    except ValueError:
        raise CatalogError(path, f"expected a number, got {raw!r}", line, column) from None
    if not np.isfinite(value) or value < 0:
        raise CatalogError(path, f"expected a non-negative number, got {raw!r}", line, column)
    return value


def _flag(path: Path, line: int, column: str, raw: object) -> bool:
    text = str(raw).strip().casefold()
    if text in YES_VALUES:
        return True
    if text in NO_VALUES:
        return False
    raise CatalogError(path, f"expected 'Sí' or empty, got {raw!r}", line, column)


def _check_unique_ids(path: Path, cars: tuple[Car, ...]) -> None:
    seen: dict[int, int] = {}
    for offset, car in enumerate(cars):
        line = offset + 2
        if car.stock_id in seen:
            raise CatalogError(
                path, f"duplicate stock_id {car.stock_id} (first on line {seen[car.stock_id]})",
                line, "stock_id",
            )
        seen[car.stock_id] = line
