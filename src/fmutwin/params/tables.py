"""Lookup tables as they appear in a parameter file: over SOC, temperature, or both.

A table is a validated value object; evaluating it is the job of the equations (through
``ops.interp1``/``ops.interp2``), so this module only checks shapes, order and finiteness.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, Field, model_validator

from fmutwin.ops import Extrapolation
from fmutwin.params.base import StrictModel


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
        if self.temperature_K is not None and min(self.temperature_K) <= 0:
            raise ValueError("temperature_K: breakpoints must be above 0 K")
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


def _all_positive(table: Table) -> Table:
    if table.min() <= 0:
        raise ValueError(f"every value must be > 0, smallest is {table.min()}")
    return table


PositiveTable = Annotated[Table, AfterValidator(_all_positive)]
"""A table whose every value must be positive (resistances, time constants)."""
