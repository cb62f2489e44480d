"""The module parameter set: Ns series elements of Np parallel cells of one cell parameter file,
with interconnects, a thermal network, a bleed resistor per element and cell-to-cell variation.

Cell c sits in element ``c // Np`` at position ``c % Np`` (position 0 is where the element is
tapped). Variation is given per quantity either as explicit per-cell values or as a seeded
distribution; :meth:`ModuleParameters.realise` draws the distributions once and writes the
per-cell values into ``realised``, so that a saved file reproduces its run alone. Positive current
discharges the module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from fmutwin.params.base import ParameterError, ParameterFile, StrictModel
from fmutwin.params.cell import T_MAX_K, T_MIN_K, CellParameters


class Distribution(StrictModel):
    """A seeded distribution of a per-cell quantity around its nominal value: ``normal`` with
    standard deviation ``spread``, or ``uniform`` within +- ``spread`` (for a scale factor,
    ``spread`` is relative: 0.05 = 5 %)."""

    kind: Literal["normal", "uniform"] = Field(description="normal or uniform")
    spread: float = Field(ge=0, le=1e3, description="standard deviation (normal) or half-width (uniform)")
    seed: int = Field(0, ge=0, description="seed of numpy's default_rng, for a reproducible draw")


#: the quantities that vary from cell to cell (a spread of a ``*_scale`` is relative) and their
#: physical range, which a realised value must lie in
VARYING: dict[str, tuple[str, tuple[float, float]]] = {
    "capacity_scale": ("nominal capacity scale factor [1]", (0.05, 20.0)),
    "r0_scale": ("R0 scale factor [1]", (0.05, 20.0)),
    "rc_resistance_scale": ("scale factor of every RC resistance [1]", (0.05, 20.0)),
    "initial_soc": ("initial SOC [1]", (0.0, 1.0)),
    "initial_temperature_K": ("initial cell temperature [K]", (T_MIN_K, T_MAX_K)),
    "initial_cycles": ("equivalent full discharges before the start [1]", (0.0, 1e7)),
    "internal_short_scale": ("conductance scale of the cell file's internal short: 0 = no short in this cell [1]",
                             (0.0, 1e6)),
}


class Variation(StrictModel):
    """Cell-to-cell variation: each quantity explicit (one value per cell) or a distribution; an
    absent quantity is the same in every cell (scale 1, or the cell file's initial value)."""

    capacity_scale: list[float] | Distribution | None = None
    r0_scale: list[float] | Distribution | None = None
    rc_resistance_scale: list[float] | Distribution | None = None
    initial_soc: list[float] | Distribution | None = None
    initial_temperature_K: list[float] | Distribution | None = None
    initial_cycles: list[float] | Distribution | None = None
    internal_short_scale: list[float] | Distribution | None = None


class Interconnect(StrictModel):
    """Interconnect resistances: a tab in series with every cell, the parallel busbar segment
    between neighbouring cells of an element (the element is tapped at position 0, so the segment
    after position k carries the current of the cells beyond it), the series busbar between
    neighbouring elements."""

    tab_resistance_ohm: float = Field(0.0, ge=0, le=1.0, description="cell tab resistance [Ohm]")
    parallel_busbar_resistance_ohm: float = Field(0.0, ge=0, le=1.0,
                                                  description="busbar segment between parallel cells [Ohm]")
    series_busbar_resistance_ohm: float = Field(0.0, ge=0, le=1.0, description="busbar between elements [Ohm]")


class ModuleThermal(StrictModel):
    """The module's thermal network: every cell is a lumped mass (its cell file's heat capacity
    and convection to ambient) conducting to its neighbours in the layout and to a cold plate.

    ``row``: cells in index order in one line; ``grid``: rows of ``columns`` cells in index order,
    neighbours across and along the rows.
    """

    layout: Literal["row", "grid"] = Field("row", description="cell arrangement")
    columns: int | None = Field(None, ge=1, le=1000, description="cells per row of a grid")
    neighbour_conductance_W_per_K: float = Field(0.0, ge=0, le=1e6, description="between adjacent cells [W/K]")
    cold_plate_conductance_W_per_K: float = Field(0.0, ge=0, le=1e6, description="each cell to the plate [W/K]")

    @model_validator(mode="after")
    def _layout(self) -> "ModuleThermal":
        if self.layout == "grid" and self.columns is None:
            raise ValueError("columns: a grid layout needs its number of columns")
        return self


class ModuleLayout(ParameterFile):
    """What every module of Ns x Np cells shares, whatever its cell model: the circuit, the
    thermal network, the bleed resistors and the cell-to-cell variation (realised into the file).
    Positive current discharges the module. Subclasses add the cell and its nominal values."""

    name: str = Field(description="short name of the module")
    source: str = Field(description="where the numbers come from")
    n_series: int = Field(ge=1, le=1000, description="series elements Ns")
    n_parallel: int = Field(ge=1, le=100, description="cells in parallel per element Np")
    interconnect: Interconnect = Field(default_factory=Interconnect)
    thermal: ModuleThermal = Field(default_factory=ModuleThermal)
    bleed_resistance_ohm: float = Field(30.0, gt=0, le=1e6, description="balancing bleed resistor per element [Ohm]")
    variation: Variation = Field(default_factory=Variation)
    realised: dict[str, list[float]] | None = Field(
        None, description="the per-cell values the variation gave (written by realise(); used when present)")
    provenance: dict[str, Any] | None = Field(None, description="how this module file was produced")

    @property
    def n_cells(self) -> int:
        return self.n_series * self.n_parallel

    @model_validator(mode="after")
    def _layout_check(self) -> "ModuleLayout":
        n = self.n_cells
        if self.thermal.layout == "grid" and n % int(self.thermal.columns or 1):
            raise ValueError(f"thermal.columns: {self.thermal.columns} columns do not tile {n} cells")
        for key in VARYING:
            given = getattr(self.variation, key)
            if isinstance(given, list) and len(given) != n:
                raise ValueError(f"variation.{key}: {len(given)} values for {n} cells (Ns x Np)")
        check_realised(self.realised, n)
        return self

    def nominal(self, key: str) -> float:
        """The value of ``key`` in a cell without variation."""
        raise NotImplementedError

    def realise(self) -> "ModuleLayout":
        """This set with every varying quantity drawn or copied into ``realised`` (kept as is if
        already there), validated against its physical range; an explicit ``realised`` wins."""
        values = dict(self.realised or {})
        n = self.n_cells
        for key, (_, limits) in VARYING.items():
            if key in values:
                continue
            given = getattr(self.variation, key)
            nominal = self.nominal(key)
            if given is None:
                drawn = np.full(n, nominal)
            elif isinstance(given, list):
                drawn = np.asarray(given, dtype=float)
            else:
                rng = np.random.default_rng(given.seed)
                noise = rng.normal(0.0, given.spread, n) if given.kind == "normal" else rng.uniform(
                    -given.spread, given.spread, n)
                drawn = nominal * (1.0 + noise) if key.endswith("_scale") else nominal + noise
            values[key] = [float(v) for v in drawn]
            problem = range_problem(f"variation.{key} (realised)", values[key], n, limits)
            if problem:
                raise ParameterError(problem)
        self._check_realised_for_cell(values)
        return self.model_copy(update={"realised": values})

    def _check_realised_for_cell(self, values: dict[str, list[float]]) -> None:
        """Refuse realised values the cell model cannot take (raises :class:`ParameterError`)."""

    def save(self, path: str | Path) -> None:
        """Write the set with its realised variation (a run is reproducible from the file alone)."""
        ParameterFile.save(self.realise(), path)


class ModuleParameters(ModuleLayout):
    """A module of Ns x Np ECM cells of one cell parameter file."""

    cell: CellParameters = Field(description="the cell parameter set of every cell (a lumped thermal model)")

    @model_validator(mode="after")
    def _check(self) -> "ModuleParameters":
        if self.cell.thermal.model != "lumped":
            raise ValueError(f"cell.thermal.model: {self.cell.thermal.model!r}: a module's cells are lumped thermal "
                             "masses of its network (use model 'lumped')")
        return self

    def nominal(self, key: str) -> float:
        """The value of ``key`` in a cell without variation."""
        if key.endswith("_scale"):
            return 1.0
        ini = self.cell.initial
        aging = self.cell.cycling_aging
        return {"initial_soc": ini.soc, "initial_temperature_K": ini.temperature_K,
                "initial_cycles": aging.initial_cycles if aging else 0.0}[key]

    def _check_realised_for_cell(self, values: dict[str, list[float]]) -> None:
        if self.cell.cycling_aging is None and any(values["initial_cycles"]):
            raise ParameterError("variation.initial_cycles: the cell file has no cycling_aging block")


def check_realised(realised: dict[str, list[float]] | None, n: int) -> None:
    """Refuse realised per-cell values that are not a varying quantity, or not ``n`` values in its range."""
    for key, values in (realised or {}).items():
        if key not in VARYING:
            raise ValueError(f"realised.{key}: not a varying quantity ({', '.join(VARYING)})")
        problem = range_problem(f"realised.{key}", values, n, VARYING[key][1])
        if problem:
            raise ValueError(problem)


def range_problem(where: str, values: list[float], n: int, limits: tuple[float, float]) -> str | None:
    """Why per-cell values are not usable (wrong count, a value outside its physical range), or None."""
    lo, hi = limits
    if len(values) != n:
        return f"{where}: {len(values)} values for {n} cells"
    for i, v in enumerate(values):
        if not np.isfinite(v) or not lo <= v <= hi:
            return f"{where}[{i}] = {v!r} is outside [{lo:g}, {hi:g}]; lower the spread or give explicit values"
    return None
