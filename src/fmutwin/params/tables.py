"""Lookup tables as they appear in a parameter file: over SOC, temperature, or both.

A table is a validated value object; evaluating it is the job of the equations (through
``ops.interp1``/``ops.interp2``), so this module only checks shapes, order and finiteness.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import AfterValidator, Field, model_validator

from fmutwin.ops import Extrapolation
from fmutwin.params.base import StrictModel


#: the ranges a table's breakpoints may span: SOC a little beyond [0, 1] (for extrapolation), and
#: the temperatures a cell can have (the same range as every temperature of a cell parameter file)
SOC_GRID_RANGE = (-0.5, 1.5)
TEMPERATURE_RANGE_K = (100.0, 2000.0)


class Table(StrictModel):
    """Values over an SOC grid, a temperature grid, or the (SOC, temperature) grid.

    ``values`` is a number (a constant), a list matching the one grid given, or a list of rows
    (one row per SOC point, one column per temperature point) when both grids are given.
    """

    soc: list[float] | None = Field(None, description="SOC breakpoints [1], strictly increasing")
    temperature_K: list[float] | None = Field(
        None, description="temperature breakpoints [K], strictly increasing")
    values: float | list[float] | list[list[float]] = Field(
        description="table values, in the unit of the parameter that holds the table")
    extrapolation: Extrapolation = Field(
        "nearest", description="outside the grid: hold the edge value (nearest), extend the edge "
        "segment (linear), or stop with an error (error)")

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        """A bare number in a parameter file is a constant table."""
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"values": data}
        return data

    @model_validator(mode="after")
    def _check(self) -> "Table":
        for axis in ("soc", "temperature_K"):
            grid = getattr(self, axis)
            if grid is None:
                continue
            if len(grid) == 0:
                raise ValueError(f"{axis}: grid is empty")
            if np.any(np.diff(grid) <= 0):
                raise ValueError(f"{axis}: grid must be strictly increasing, got {grid}")
        for axis, (lo, hi), unit in (("soc", SOC_GRID_RANGE, ""), ("temperature_K", TEMPERATURE_RANGE_K, " K")):
            grid = getattr(self, axis)
            if grid is not None and (min(grid) < lo or max(grid) > hi):
                raise ValueError(f"{axis}: breakpoints must lie in [{lo:g}, {hi:g}]{unit}, got {min(grid):g} .. "
                                 f"{max(grid):g}")
        expected = tuple(len(g) for g in (self.soc, self.temperature_K) if g is not None)
        shape = np.shape(self.values)
        if shape != expected:
            raise ValueError(f"values: shape {shape} does not match the grid shape {expected} "
                             "(rows over soc, columns over temperature_K)")
        return self

    @property
    def array(self) -> np.ndarray:
        """The values as a float array of the grid's shape."""
        return np.asarray(self.values, dtype=float)

    def scaled(self, factor: float) -> "Table":
        """The same table with every value multiplied by ``factor``."""
        return self.model_copy(update={"values": (self.array * factor).tolist()})

    def min(self) -> float:
        """Smallest tabulated value."""
        return float(np.min(self.array))


def bounded(lo: float, hi: float, unit: str, lo_open: bool = False) -> Any:
    """A validator for a table (or a constant) whose every value must lie in [lo, hi] (or (lo, hi]
    with ``lo_open``): the physical range of the quantity it holds, e.g. a resistance in
    (0, 1000] Ohm. The message names the range and the offending value."""
    def check(value: Any) -> Any:
        array = value.array if isinstance(value, Table) else np.asarray(value, dtype=float)
        low, high = float(np.min(array)), float(np.max(array))
        if (low <= lo if lo_open else low < lo) or high > hi:
            bad = low if (low <= lo if lo_open else low < lo) else high
            raise ValueError(f"every value must be in {'(' if lo_open else '['}{lo:g}, {hi:g}] {unit}, got {bad!r}")
        return value

    return AfterValidator(check)

