"""Table lookup of a parameter table held in the equation parameters ``p``.

A table named ``name`` is stored in ``p`` as ``p[name]`` = {"soc": grid, "temperature_K": grid,
"values": values}; the static :class:`TableShape` says which axes exist and how to extrapolate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fmutwin.ops import Ops


@dataclass(frozen=True)
class TableShape:
    """Static layout of one table: grid lengths (0 = axis absent) and extrapolation mode."""

    n_soc: int
    n_temperature: int
    extrapolation: str


def lookup(ops: Ops, shape: TableShape, data: dict[str, Any], soc: Any, temperature_K: Any, name: str) -> Any:
    """Evaluate a table at (soc, temperature_K), using only the axes it has."""
    values = data["values"]
    if shape.n_soc and shape.n_temperature:
        return ops.interp2(soc, temperature_K, data["soc"], data["temperature_K"], values,
                           shape.extrapolation, name)
    if shape.n_soc:
        return ops.interp1(soc, data["soc"], values, shape.extrapolation, name)
    if shape.n_temperature:
        return ops.interp1(temperature_K, data["temperature_K"], values, shape.extrapolation, name)
    return values + 0.0 * soc
