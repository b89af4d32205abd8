"""SVG chart geometry, computed on the server (templates/console/macros.html draws it): columns
per day and horizontal bars for rankings. No script, no stylesheet inside the SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COLUMN_WIDTH, COLUMN_GAP, CHART_HEIGHT, LABEL_ROOM = 13, 4, 110, 18
BAR_HEIGHT, BAR_GAP, BAR_WIDTH = 18, 6, 130


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str  # under the column ("26")
    title: str  # on hover ("26/11: 41")


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    baseline: int
    columns: list[Column]
    peak: str  # the largest value, written at the top left


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    name: str
    value: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bar_height: int
    bars: list[Bar]


def column_chart(
    values: Sequence[float], labels: Sequence[str], titles: Sequence[str], peak: str = ""
) -> ColumnChart:
    """One column per value, scaled to the largest (an all-zero chart is a flat line)."""
    top = max(values, default=0) or 1
    columns = []
    for index, value in enumerate(values):
        height = round(CHART_HEIGHT * value / top, 1)
        columns.append(
            Column(
                x=index * (COLUMN_WIDTH + COLUMN_GAP),
                y=CHART_HEIGHT - height,
                width=COLUMN_WIDTH,
                height=height,
                label=labels[index],
                title=titles[index],
            )
        )
    width = max(len(values) * (COLUMN_WIDTH + COLUMN_GAP) - COLUMN_GAP, COLUMN_WIDTH)
    return ColumnChart(width, CHART_HEIGHT + LABEL_ROOM, CHART_HEIGHT, columns, peak)


def bar_chart(items: Sequence[tuple[str, float, str]]) -> BarChart:
    """(name, value, value as written) per bar, the longest bar for the largest value."""
    top = max((value for _, value, _ in items), default=0) or 1
    bars = [
        Bar(
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=round(BAR_WIDTH * value / top, 1),
            name=name,
            value=written,
        )
        for index, (name, value, written) in enumerate(items)
    ]
    height = max(len(items) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP, BAR_HEIGHT)
    return BarChart(BAR_WIDTH, height, BAR_HEIGHT, bars)
