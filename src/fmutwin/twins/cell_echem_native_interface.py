"""The native electrochemical cell: a PyBaMM SPM or SPMe cell (an :class:`EchemCellParameters`
file) as an :class:`~fmutwin.interface.EquationSpec`, so the native export generates it as C
with no Python at run time, a drop-in for the Python ``CellEchem`` FMU.

PyBaMM discretises the model and exports it to CasADi (:class:`EchemCasadi`); a step is the
file's fixed-step implicit scheme (:mod:`fmutwin.implicit_steps`) over the communication step,
one CasADi call inside the equations (:meth:`fmutwin.ops.Ops.call`). The declared variables are
the Python FMU's (``cell_echem_interface``) where they apply: the FMU parameters are the initial
SOC and temperature and the file's run-time parameters; the model, parameter set, mesh and
scheme are fixed at generation and recorded in the file's provenance. The terminal voltage's
limits are the parameter set's cut-offs and the surface stoichiometries' are [0, 1]: a step
that would pass one is refused (the FMI layer's validity limits). Positive current discharges
the cell.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmutwin.interface import EquationSpec, Variable
from fmutwin.params.cell_echem import EchemCellParameters
from fmutwin.twins.cell_echem import PYBAMM_OUTPUTS
from fmutwin.twins.cell_echem_interface import INPUTS, OUTPUTS, PARAMETERS

#: the step's outputs computed by PyBaMM (the others: current, SOCs)
MODEL_OUTPUTS = tuple(key for key in PYBAMM_OUTPUTS if key != "current_A")
STOICHIOMETRIES = ("negative_surface_stoichiometry", "positive_surface_stoichiometry")


@dataclass(frozen=True)
class EchemStructure:
    """What a native electrochemical cell's equations need that is not a number of ``p``: the
    cell's CasADi functions and the generated step (x, PyBaMM inputs, dt) -> (x_next, outputs)."""

    cell: Any  # EchemCasadi
    step: Any
    run_time: tuple[tuple[str, str], ...]  # (PyBaMM name, FMU name)


def step(ops: Any, s: EchemStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any]) -> tuple[dict, dict]:
    """One step of ``u["dt"]`` at the step's current (positive = discharge), ambient temperature
    and heat flow: the new state and the outputs at the step's end."""
    inputs = _pybamm_inputs(ops, s, p, u["current_A"], u["ambient_temperature_K"], u["heat_flow_W"])
    x_next, out = ops.call(s.step, x["x"], inputs, u["dt"])
    y = {key: out[k] for k, key in enumerate(MODEL_OUTPUTS)}
    window, nominal = s.cell.window_capacity_Ah, s.cell.nominal_capacity_Ah
    remaining_Ah = p["initial_soc"] * window - y["discharge_capacity_Ah"]
    y.update(current_A=u["current_A"], soc=remaining_Ah / window, soc_nominal=remaining_Ah / nominal)
    return {"x": x_next}, y


def initial_state(ops: Any, s: EchemStructure, p: dict[str, Any]) -> dict[str, Any]:
    """PyBaMM's initial state at the initial SOC (and, lumped, temperature)."""
    inputs = _pybamm_inputs(ops, s, p, 0.0, p["initial_temperature_K"], 0.0)
    return {"x": ops.call(s.cell.initial, inputs)[0]}


def _pybamm_inputs(ops: Any, s: EchemStructure, p: dict[str, Any], current_A: Any, ambient_temperature_K: Any,
                   heat_flow_W: Any) -> Any:
    """The vector of PyBaMM input parameters: these, the initial SOC and temperature and the
    run-time parameters."""
    inputs = s.cell.inputs(current_A, ambient_temperature_K, p["initial_soc"], heat_flow_W, p["initial_temperature_K"],
                           {name: p["run_time"][key] for name, key in s.run_time})
    return ops.cell_array(list(inputs.values()))


def equation_spec(params: EchemCellParameters) -> EquationSpec:
    """The native FMU's equations and declaration from an electrochemical cell file (PyBaMM
    builds and discretises the model here)."""
    import casadi as ca

    from fmutwin.implicit_steps import implicit_step
    from fmutwin.twins.echem_casadi import EchemCasadi

    names = [rp.pybamm_name for rp in params.run_time_parameters]
    cell = EchemCasadi(params.model, params.parameter_set, params.bpx_file,
                       [PYBAMM_OUTPUTS[key] for key in MODEL_OUTPUTS], params.thermal, params.var_pts, names)
    x = ca.MX.sym("x", cell.n_states)
    inputs, dt = ca.MX.sym("inputs", len(cell.input_names)), ca.MX.sym("dt")
    x_next = implicit_step(cell.rhs, x, inputs, dt, params.scheme, params.substeps, params.newton_iterations)
    generated = ca.Function("echem_step", [x, inputs, dt], [x_next, cell.outputs(x_next, inputs)])
    structure = EchemStructure(cell, generated, tuple((rp.pybamm_name, rp.fmi_name)
                                                      for rp in params.run_time_parameters))
    by_name = {v.name: v for v in PARAMETERS}
    parameters = [(dataclasses.replace(by_name["initialSoc"], start=params.initial_soc), "initial_soc"),
                  (dataclasses.replace(by_name["initialTemperature"], start=params.initial_temperature_K),
                   "initial_temperature_K")]
    run_time: dict[str, float] = {}
    for rp in params.run_time_parameters:
        value = cell.run_time_defaults[rp.pybamm_name]
        lo, hi = rp.limits(value)
        run_time[rp.fmi_name] = value
        parameters.append((Variable(rp.fmi_name, "parameter", f"PyBaMM parameter {rp.pybamm_name!r}, set at run "
                                    "time", unit=rp.unit, start=value, min=lo, max=hi), f"run_time.{rp.fmi_name}"))
    low, high = cell.voltage_limits_V
    limits = {"voltage_V": (low, high), **{key: (0.0, 1.0) for key in STOICHIOMETRIES}}
    outputs = tuple((dataclasses.replace(var, min=limits[key][0], max=limits[key][1]) if key in limits else var, key)
                    for var, key in OUTPUTS)
    p = {"initial_soc": params.initial_soc, "initial_temperature_K": params.initial_temperature_K,
         "run_time": run_time}
    return EquationSpec(step, initial_state, structure, p, tuple(f"x[{k}]" for k in range(cell.n_states)),
                        ("current_A", "ambient_temperature_K", "heat_flow_W", "dt"), tuple(parameters), INPUTS,
                        outputs, "dt", None)


def cell_echem_file_spec(path: Path | None) -> EquationSpec:
    """The spec of an electrochemical cell file (the shipped SPMe when ``path`` is None); a bad
    file raises ParameterError naming the field. Made once per file content and process (the
    FMI 2.0 and 3.0 FMUs of one build share PyBaMM's discretisation)."""
    from fmutwin.params.defaults import default_cell_echem_file

    params = EchemCellParameters.load(path or default_cell_echem_file())
    return _file_spec(params.model_dump_json(exclude={"provenance"}))


@functools.lru_cache(maxsize=4)
def _file_spec(content: str) -> EquationSpec:
    return equation_spec(EchemCellParameters.model_validate_json(content))


def build_record(params: EchemCellParameters) -> dict[str, Any]:
    """What a native FMU fixes when it is generated, as a provenance record: the PyBaMM model,
    parameter set (its hash) or BPX file, version, options, mesh and the integration scheme; the
    file's own record, if it had one, as its origin."""
    from fmutwin.provenance import environment, generated_by, pybamm_source
    from fmutwin.twins.cell_echem import _pybamm, parameter_values
    from fmutwin.twins.echem_casadi import THERMAL_OPTIONS

    values, _ = parameter_values(params.parameter_set, params.bpx_file)
    model = getattr(_pybamm().lithium_ion, params.model)(options=dict(THERMAL_OPTIONS[params.thermal]))
    mesh = {str(k): int(v) for k, v in {**model.default_var_pts, **(params.var_pts or {})}.items()}
    step_record = {"scheme": params.scheme, "substeps": params.substeps,
                   "newton_iterations": params.newton_iterations, "code": "CasADi-generated C, gcc"}
    record: dict[str, Any] = {
        "source_model": pybamm_source(params.model, params.parameter_set, params.bpx_file, values,
                                      options=THERMAL_OPTIONS[params.thermal], var_pts=mesh, step=step_record,
                                      run_time_parameters=[rp.pybamm_name for rp in params.run_time_parameters]),
        "generated_by": generated_by("fmutwin build (native electrochemical cell)"),
        "environment": environment()}
    if params.provenance:
        record["origin"] = {"file_provenance": params.provenance}
    return record


@functools.lru_cache(maxsize=8)
def _recorded(path: str, mtime_ns: int) -> Path:
    from fmutwin.provenance import attach

    params = EchemCellParameters.load(path)
    sealed = attach(params.model_copy(update={"provenance": None}), build_record(params))
    folder = Path(tempfile.gettempdir()) / "fmutwin_echem_build"
    folder.mkdir(exist_ok=True)
    out = folder / f"{Path(path).stem}_{os.getpid()}_{mtime_ns}.json"
    sealed.save(out)
    return out


def recorded_file(path: Path) -> Path:
    """A copy of the cell file ``path`` with :func:`build_record` as its provenance (made once per
    file version and process; the FMUs ship it)."""
    path = Path(path).resolve()
    return _recorded(str(path), path.stat().st_mtime_ns)
