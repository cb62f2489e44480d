"""The build settings of a native electrochemical cell FMU: which PyBaMM model and parameter set,
the thermal model, the mesh, the integration scheme, the run-time parameters and their ranges.

Everything here is fixed when the FMU is generated (PyBaMM discretises the model and CasADi
writes it as C) except the initial SOC and temperature and the ``run_time_parameters``, which
stay PyBaMM input parameters and become FMU parameters. Positive current discharges the cell.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, model_validator

from fmutwin.params.base import ParameterFile, StrictModel
from fmutwin.params.cell import T_MAX_K, T_MIN_K


class RunTimeParameter(StrictModel):
    """A PyBaMM parameter that stays an input of the generated code: an FMU parameter with a range."""

    pybamm_name: str = Field(min_length=1, description="the PyBaMM parameter, e.g. 'Contact resistance [Ohm]'")
    name: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
                             description="the FMU variable name (default: camelCase of the PyBaMM name)")
    min: float | None = Field(None, description="lowest value an importer may set (default: the parameter set's "
                                                "value / 10, or -10 x |value|)")
    max: float | None = Field(None, description="highest value an importer may set (default: 10 x |value|)")

    @property
    def fmi_name(self) -> str:
        """The FMU variable name."""
        if self.name:
            return self.name
        words = re.findall(r"[A-Za-z0-9]+", self.pybamm_name.split("[")[0])
        return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])

    @property
    def unit(self) -> str:
        """The SI unit, from the PyBaMM name's brackets (``"1"`` for none or ``[-]``)."""
        match = re.search(r"\[([^\]]+)\]\s*$", self.pybamm_name)
        return "1" if not match or match.group(1) in ("-", "1") else match.group(1)

    def limits(self, value: float) -> tuple[float, float]:
        """(min, max) around the parameter set's ``value``."""
        lo = self.min if self.min is not None else (value / 10.0 if value > 0 else -10.0 * abs(value))
        hi = self.max if self.max is not None else 10.0 * abs(value)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= value <= hi and lo < hi):
            raise ValueError(f"run_time_parameters: {self.pybamm_name}: range [{lo}, {hi}] must be finite and hold "
                             f"the parameter set's value {value}")
        return lo, hi


class EchemCellParameters(ParameterFile):
    """A PyBaMM SPM or SPMe cell for native (generated C) FMUs."""

    kind: Literal["cell_echem"] = Field("cell_echem", description="what this file is: a native electrochemical cell")
    name: str = Field(min_length=1, description="name of this cell")
    source: str = Field("", description="where it came from")
    model: Literal["SPM", "SPMe"] = Field("SPMe", description="PyBaMM model (no algebraic states: DFN is refused)")
    parameter_set: str = Field("Chen2020", description="PyBaMM parameter set (ignored with bpx_file)")
    bpx_file: str | None = Field(None, description="BPX parameter file, instead of parameter_set")
    thermal: Literal["isothermal", "lumped"] = Field("isothermal", description="isothermal (the cell at ambient) "
                                                     "or PyBaMM's lumped thermal model")
    var_pts: dict[str, int] | None = Field(None, description="PyBaMM mesh sizes (its defaults otherwise)")
    scheme: Literal["ros2", "sdirk2", "radau5"] = Field("radau5", description="fixed-step implicit scheme "
                                                        "(fmutwin.implicit_steps; docs/cell_echem.md compares them)")
    substeps: int = Field(1, ge=1, le=100, description="substeps per communication step")
    newton_iterations: int = Field(1, ge=1, le=10, description="Newton iterations per stage (sdirk2, radau5)")
    initial_soc: float = Field(0.9, ge=0, le=1, description="default initial SOC over the electrode-SOH window [1]")
    initial_temperature_K: float = Field(298.15, ge=T_MIN_K, le=T_MAX_K, description="default initial temperature")
    run_time_parameters: list[RunTimeParameter] = Field(default_factory=list,
                                                        description="PyBaMM parameters set at run time")
    provenance: dict[str, Any] | None = Field(None, description="how this file was produced")

    @model_validator(mode="after")
    def _distinct(self) -> "EchemCellParameters":
        names = [p.fmi_name for p in self.run_time_parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"run_time_parameters: names {names} are not distinct")
        if self.var_pts is not None and any(v < 2 for v in self.var_pts.values()):
            raise ValueError(f"var_pts: {self.var_pts}: every mesh size must be at least 2")
        return self
