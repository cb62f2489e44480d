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


def lookup_many(ops: Ops, shapes: dict[str, TableShape], p: dict[str, Any], names: list[str], soc: Any,
                temperature_K: Any) -> dict[str, Any]:
    """Several tables of ``p`` at one (soc, temperature_K), by name; the 2-D ones through
    :meth:`Ops.interp2_many` (numpy looks up those that share their grids at once)."""
    two_d = [n for n in names if shapes[n].n_soc > 1 and shapes[n].n_temperature > 1]
    out = {n: lookup(ops, shapes[n], p[n], soc, temperature_K, n) for n in names if n not in two_d}
    out.update(zip(two_d, ops.interp2_many(soc, temperature_K, [
        (p[n]["soc"], p[n]["temperature_K"], p[n]["values"], shapes[n].extrapolation, n) for n in two_d])))
    return out


def mean_over_soc(ops: Ops, shape: TableShape, data: dict[str, Any], soc_a: Any, soc_b: Any, temperature_K: Any,
                  name: str) -> Any:
    """Exact mean of the table over SOC from ``soc_a`` to ``soc_b`` at a held temperature.

    Used for the energy a step draws from the OCV source: with SOC linear in time over a step,
    the integral of OCV*I dt is I dt times this mean. Equal ends give the table value.
    (Temperature is held over a step, so only the SOC axis is averaged.)
    """
    if not shape.n_soc:
        return lookup(ops, shape, data, soc_a, temperature_K, name)
    mode = shape.extrapolation
    values = data["values"]
    if shape.n_temperature:  # the mean is linear in the values: average each column, then along T
        columns = [ops.mean1(soc_a, soc_b, data["soc"], [values[i][j] for i in range(shape.n_soc)], mode, name)
                   for j in range(shape.n_temperature)]
        return ops.interp1(temperature_K, data["temperature_K"], columns, mode, name)
    return ops.mean1(soc_a, soc_b, data["soc"], values, mode, name)


def slope_over_soc(ops: Ops, shape: TableShape, data: dict[str, Any], soc: Any, temperature_K: Any, name: str) -> Any:
    """d/dSOC of the table at (soc, temperature_K) (temperature held): the slope of the SOC segment
    that holds ``soc``, interpolated over temperature in a 2-D table (the table is bilinear)."""
    if not shape.n_soc:
        return 0.0 * soc
    mode = shape.extrapolation
    values = data["values"]
    if shape.n_temperature:
        columns = [ops.slope1(soc, data["soc"], [values[i][j] for i in range(shape.n_soc)], mode, name)
                   for j in range(shape.n_temperature)]
        return ops.interp1(temperature_K, data["temperature_K"], columns, mode, name)
    return ops.slope1(soc, data["soc"], values, mode, name)
