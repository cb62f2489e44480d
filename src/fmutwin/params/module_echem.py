"""The parameter set of a module of electrochemical cells (PyBaMM SPM or SPMe): the circuit,
thermal network, bleed resistors and variation of every module (:class:`ModuleLayout`), with the
cell given as a PyBaMM model and parameter set (or BPX file) and its lumped thermal mass.

Of the cell-to-cell variation this cell takes ``capacity_scale`` (a cell that much larger: the
nominal cell at current I / scale, heat and heat capacity times scale, exact for these models),
``initial_soc`` and ``initial_temperature_K``; the ECM's R0, RC and aging factors have no
meaning here and are refused. Positive current discharges the module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fmutwin.params.base import ParameterError, StrictModel
from fmutwin.params.cell import T_MAX_K, T_MIN_K
from fmutwin.params.module import ModuleLayout

#: variation quantities an electrochemical cell has no counterpart for
ECM_ONLY = ("r0_scale", "rc_resistance_scale", "initial_cycles", "internal_short_scale")


class EchemCell(StrictModel):
    """Every cell of the module: a PyBaMM model (isothermal at its network temperature) and its
    lumped thermal mass."""

    model: Literal["SPM", "SPMe"] = Field("SPMe", description="PyBaMM model")
    parameter_set: str = Field("Chen2020", description="PyBaMM parameter set (ignored with bpx_file)")
    bpx_file: str | None = Field(None, description="BPX parameter file, instead of parameter_set")
    substeps: int = Field(2, ge=1, le=100, description="substeps per step of the cells' scheme")
    scheme: Literal["ros2", "sdirk2", "radau5"] | None = Field(
        None, description="the cells' fixed-step scheme (fmutwin.implicit_steps; the native electrochemical cell "
                          "FMU's default is radau5); None: ros2")
    newton_iterations: int | None = Field(None, ge=1, le=10, description="Newton iterations per stage (sdirk2, "
                                                                         "radau5); None: 1")
    heat_capacity_J_per_K: float = Field(gt=0, le=1e7, description="cell heat capacity [J/K]")
    heat_transfer_W_per_K: float = Field(0.0, ge=0, le=1e4, description="cell to ambient, h A [W/K]")
    initial_soc: float = Field(0.9, ge=0, le=1, description="SOC over the electrode-SOH window [1]")
    initial_temperature_K: float = Field(298.15, ge=T_MIN_K, le=T_MAX_K, description="[K]")


class ModuleEchemParameters(ModuleLayout):
    """A module of Ns x Np electrochemical cells."""

    cell: EchemCell = Field(description="the cell model of every cell")

    @model_validator(mode="after")
    def _check(self) -> "ModuleEchemParameters":
        for key in ECM_ONLY:
            if getattr(self.variation, key) is not None:
                raise ValueError(f"variation.{key}: an electrochemical cell has no such factor "
                                 "(it takes capacity_scale, initial_soc, initial_temperature_K)")
        return self

    def nominal(self, key: str) -> float:
        if key.endswith("_scale"):
            return 1.0
        return {"initial_soc": self.cell.initial_soc, "initial_temperature_K": self.cell.initial_temperature_K,
                "initial_cycles": 0.0}[key]

    def _check_realised_for_cell(self, values: dict[str, list[float]]) -> None:
        for key in ECM_ONLY:
            if any(v != self.nominal(key) for v in values[key]):
                raise ParameterError(f"realised.{key}: an electrochemical cell has no such factor")
