"""The electrochemical module twin's exposed variables (the module FMUs' declaration, see
:mod:`fmutwin.twins.module_interface`) and the model the FMI layer drives. Nothing here knows FMI.
Positive current discharges the module.

This twin keeps Python at run time: the importing process needs PyBaMM, CasADi and gcc (the cell
step is compiled when an instance is initialised).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.interface import ModelError, Variable
from fmutwin.params.module_echem import ModuleEchemParameters
from fmutwin.twins.module_interface import module_inputs, module_outputs, module_parameters
from fmutwin.twins.opaque_model import OpaqueTwinModel

#: the per-cell quantities an electrochemical module's variation holds
VARYING = ("capacity_scale", "initial_soc", "initial_temperature_K")
#: the largest accepted |module current| by default: this C-rate of the cells, times Np
LIMIT_C_RATE = 20.0


def declaration(params: ModuleEchemParameters) -> dict[str, tuple[tuple[Variable, str], ...]]:
    """Parameters, inputs and outputs, each as (variable, twin key), from the module file."""
    from fmutwin.twins.cell_echem import parameter_values

    values, _ = parameter_values(params.cell.parameter_set, params.cell.bpx_file)
    limit = LIMIT_C_RATE * float(values["Nominal cell capacity [A.h]"]) * params.n_parallel
    outputs = module_outputs(params.n_cells, params.n_series, (0.0, 1.0), mean_voltage=False) + (
        (Variable("splitEvaluations", "output", "batched cell steps the current split took this step", unit="1"),
         "split_evaluations"),)
    return {"parameters": module_parameters(params, VARYING, limit), "inputs": module_inputs(params.n_series),
            "outputs": outputs}


class ModuleEchemModel(OpaqueTwinModel):
    """Drives one :class:`fmutwin.twins.module_echem.ModuleEchemTwin` from FMI-named values."""

    def __init__(self, parameter_file: str | Path | None) -> None:
        from fmutwin.params.defaults import default_module_echem_parameters

        self._load(parameter_file, lambda f: ModuleEchemParameters.load(f).realise(),
                   lambda: default_module_echem_parameters().realise(), declaration)

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        from fmutwin.twins.module_echem import ModuleEchemTwin

        values = {key: parameters[var.name] for var, key in self.declared["parameters"]}
        self.current_limit_A = float(values["current_limit_A"])
        data = self.params.model_dump()
        data["realised"] = {**data["realised"], **{k: [float(v) for v in np.ravel(values[k])] for k in VARYING}}
        data["interconnect"] = {k: float(values[k]) for k in data["interconnect"]}
        data["thermal"].update({k: float(values[k]) for k in ("neighbour_conductance_W_per_K",
                                                             "cold_plate_conductance_W_per_K")})
        data["bleed_resistance_ohm"] = float(values["bleed_resistance_ohm"])
        try:
            self.twin = ModuleEchemTwin(ModuleEchemParameters.from_dict(data))
        except ValueError as exc:
            raise ModelError(str(exc)) from None
        return self._look(inputs)

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        args = {key: inputs[var.name] for var, key in self.declared["inputs"]}
        args["bleed"] = np.asarray(args["bleed"], dtype=float)
        return self._step_twin(dt_s, args)

    def get_state(self) -> dict[str, Any]:
        return {k: np.asarray(v).tolist() for k, v in self.twin.get_state().items()}
