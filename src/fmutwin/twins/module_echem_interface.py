"""The electrochemical module twin's exposed variables (the module FMUs' declaration, see
:mod:`fmutwin.twins.module_interface`) and the model the FMI layer drives. Nothing here knows FMI.
Positive current discharges the module.

The Python FMU keeps Python at run time: the importing process needs PyBaMM, CasADi and gcc (the
cell step is compiled when an instance is initialised). The native FMU (:func:`equation_spec`)
is the same step (:mod:`fmutwin.equations.module_echem`) with the PyBaMM cell's step generated
as C and called once per cell: nothing but libm at run time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.equations.module_echem import TOLERANCE_V
from fmutwin.interface import EquationSpec, ModelError, Variable
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
    outputs = tuple((dataclasses.replace(var, description="largest voltage mismatch of the current split: a step "
                                         f"above {TOLERANCE_V:g} V is refused", max=TOLERANCE_V, warn_range=None)
                     if key == "split_residual_V" else var, key)
                    for var, key in module_outputs(params.n_cells, params.n_series, (0.0, 1.0), mean_voltage=False))
    outputs += (
        (Variable("splitEvaluations", "output", "batched cell steps the current split took this step", unit="1"),
         "split_evaluations"),
        (Variable("minSurfaceStoichiometry", "output", "lowest particle surface stoichiometry of any cell and "
                  "electrode: a step below 0 (a cell run empty or full) is refused", unit="1", min=0.0),
         "min_surface_stoichiometry"),
        (Variable("maxSurfaceStoichiometry", "output", "highest particle surface stoichiometry of any cell and "
                  "electrode: a step above 1 is refused", unit="1", max=1.0), "max_surface_stoichiometry"))
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


def equation_spec(params: ModuleEchemParameters) -> EquationSpec:
    """The native module's equations and declaration from a module file (PyBaMM discretises the
    cell here; each cell's state is ``cx<k>[c]``, the k-th PyBaMM state of cell c)."""
    from fmutwin.equations.module import module_structure
    from fmutwin.equations.module_echem import ModuleEchemStructure
    from fmutwin.twins.echem_batch import OUTPUTS
    from fmutwin.twins.module_echem import cell_batch, module_echem_parameters

    params = params.realise()
    pr, n, ns = params, params.n_cells, params.n_series
    batch = cell_batch(pr, 1)
    n_x = batch.n_states

    def cells(ops: Any, x: list[Any], current: Any, temperature: Any, dt: Any) -> dict[str, Any]:
        def one(c: dict[str, Any]) -> dict[str, Any]:
            x_next, dv_di, out = ops.call(batch.function, ops.cell_array(c["x"]), c["i"], c["t"], dt)
            return {"x": [x_next[k] for k in range(n_x)], "dv_di_ohm": dv_di[0],
                    **{key: out[j] for j, key in enumerate(OUTPUTS.values())}}
        return ops.map_cells(one, n, {"x": list(x), "i": current, "t": temperature})

    def initial(ops: Any, soc: Any) -> list[Any]:
        def one(c: dict[str, Any]) -> dict[str, Any]:
            x0 = ops.call(batch.cell.initial, ops.cell_array(list(batch.cell.inputs(0.0, 298.15, c["soc"]).values())))
            return {"x": [x0[0][k] for k in range(n_x)]}
        return ops.map_cells(one, n, {"soc": soc})["x"]

    structure = ModuleEchemStructure(
        module_structure(None, ns, pr.n_parallel, pr.thermal.layout, pr.thermal.columns), cells, initial,
        batch.window_capacity_Ah, pr.cell.heat_capacity_J_per_K, pr.cell.heat_transfer_W_per_K)
    declared = declaration(params)
    limit = next(v.start for v, key in declared["parameters"] if key == "current_limit_A")
    p = {**module_echem_parameters(params), "n_series": float(ns), "n_parallel": float(pr.n_parallel),
         "current_limit_A": limit}
    states = ("time_s", *(f"{name}[{c}]" for name in ("temperature_K", "cell_current_A", "shares") for c in range(n)),
              *(f"element_voltage_V[{e}]" for e in range(ns)), *(f"cx{k}[{c}]" for k in range(n_x) for c in range(n)))
    return EquationSpec(_step, _initial_state, (structure, n_x), p, states, structure.module.input_names(),
                        declared["parameters"], declared["inputs"], declared["outputs"], "dt_s", "time_s")


def _step(ops: Any, s: Any, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any]) -> tuple[dict, dict]:
    """:func:`fmutwin.equations.module_echem.step` on the flat states ``cx<k>`` of the cells."""
    from fmutwin.equations import module_echem

    structure, n_x = s
    packed = {k: v for k, v in x.items() if not k.startswith("cx")} | {"cells": [x[f"cx{k}"] for k in range(n_x)]}
    x_new, y = module_echem.step(ops, structure, p, packed, u)
    return _unpacked(x_new, n_x), y


def _initial_state(ops: Any, s: Any, p: dict[str, Any]) -> dict[str, Any]:
    from fmutwin.equations import module_echem

    structure, n_x = s
    return _unpacked(module_echem.initial_state(ops, structure, p), n_x)


def _unpacked(x: dict[str, Any], n_x: int) -> dict[str, Any]:
    cells = x.pop("cells")
    return x | {f"cx{k}": cells[k] for k in range(n_x)}


def module_echem_file_spec(parameter_file: str | Path | None) -> EquationSpec:
    """The spec of the module file an FMU carries (the shipped example while none is given)."""
    from fmutwin.params.defaults import default_module_echem_parameters

    if parameter_file is not None and Path(parameter_file).is_file():
        return equation_spec(ModuleEchemParameters.load(parameter_file))
    return equation_spec(default_module_echem_parameters())
