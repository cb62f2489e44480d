"""The cell ECM twin's exposed variables (declared once) and the model the FMI layer drives.

Nothing here knows FMI: :func:`declare` lists :class:`fmutwin.interface.Variable` objects, started
from one parameter file; :class:`CellECMModel` implements :class:`fmutwin.interface.SteppableModel`
(Python FMUs) and :func:`equation_spec` binds the same variables to the equations' parameter vector,
inputs and outputs (native FMUs). Sign convention: positive current discharges the cell.

Every declared start is the value the parameter file gives (or the neutral value of a feature the
file does not have: 0 cycles, a fault that never triggers), so an importer that writes every start
value runs exactly the FMU it would run by writing none.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.interface import InputError, ModelError, EquationSpec, StateError, Variable
from fmutwin.ops import TableRangeError
from fmutwin.params.base import ParameterError
from fmutwin.params.cell import T_MAX_K, T_MIN_K, CellParameters, Trigger
from fmutwin.params.defaults import default_cell_parameters
from fmutwin.twins.cell_ecm import CellECMTwin, equation_parameters

MAX_RC = 3
#: the step used to evaluate the outputs at the initial state with the importer's inputs [s]: the
#: state moves by ~1e-14 of its range, so the outputs are those of the initial state
LOOK_STEP_S = 1e-12


def built_in_parameters(parameter_file: str | Path | None = None) -> CellParameters:
    """The parameter set an FMU's variables start from: the file shipped in its resources (given
    by the registry) when it exists, else :func:`default_cell_parameters` (which honours
    ``FMUTWIN_CELL_PARAMETERS`` while building)."""
    if parameter_file is not None and Path(parameter_file).is_file():
        return CellParameters.load(parameter_file)
    return default_cell_parameters()


def current_limit_A(params: CellParameters) -> float:
    """Default largest accepted |current|: 20C of the cell."""
    return 20.0 * params.nominal_capacity_As / 3600.0


@dataclass(frozen=True)
class _Param:
    """A parameter: its declared variable, the parameter-file path it overrides ("" for twin
    options) and the leaf of the equations' parameters it sets in a native FMU ("" if none)."""

    variable: Variable
    path: str
    leaf: str


def _get_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def _trigger_params(cell: CellParameters, fault: str, name: str, what: str, leaf: str) -> tuple[_Param, ...]:
    """Time and temperature of a fault's trigger, started from the file (the defaults of
    :class:`Trigger` when the file has no such fault: time 0 s, temperature 1e4 K, never reached)."""
    block = getattr(cell.faults, fault)
    trigger = block.trigger if block is not None else Trigger(kind="time")
    path = f"faults.{fault}.trigger"
    return (
        _Param(Variable(f"{name}TriggerTime", "parameter", f"{what}: activation time (time trigger)", unit="s",
                        start=trigger.time_s, min=0.0, max=1e10), f"{path}.time_s", f"{leaf}_trigger_time_s"),
        _Param(Variable(f"{name}TriggerTemperature", "parameter", f"{what}: activation temperature (temperature "
                        "trigger; 1e4 K: never)", unit="K", start=trigger.temperature_K, min=T_MIN_K, max=1e4),
               f"{path}.temperature_K", f"{leaf}_trigger_temperature_K"),
    )


def _parameters(cell: CellParameters) -> tuple[_Param, ...]:
    """The scalar parameters, started from the parameter set ``cell``; ranges are the file's
    physical ranges (:mod:`fmutwin.params.cell`)."""
    aging = cell.cycling_aging
    return (
        _Param(Variable("parameterFile", "parameter", "path of a cell parameter JSON file; empty: the file built "
                        "into the FMU (by default PyBaMM's ECM example). Parameters set in the importer override "
                        "the file.", type="String", start=""), "", ""),
        _Param(Variable("nominalCapacity", "parameter", f"capacity SOC counts (1 Ah = 3600 As; the file's basis: "
                        f"{cell.capacity_basis} capacity)", unit="As", start=cell.nominal_capacity_As, min=1e-9,
                        max=1e8), "nominal_capacity_As", "nominal_capacity_As"),
        _Param(Variable("initialSoc", "parameter", "initial state of charge", unit="1", start=cell.initial.soc,
                        min=0.0, max=1.0), "initial.soc", "initial_soc"),
        _Param(Variable("initialTemperature", "parameter", "initial cell temperature", unit="K",
                        start=cell.initial.temperature_K, min=T_MIN_K, max=T_MAX_K), "initial.temperature_K",
               "initial_temperature_K"),
        _Param(Variable("thermalMass", "parameter", "cell heat capacity m*cp", unit="J/K",
                        start=cell.thermal.mass_J_per_K, min=1e-9, max=1e9), "thermal.mass_J_per_K", "mass_J_per_K"),
        _Param(Variable("heatTransferCoefficient", "parameter", "convective conductance h*A to ambient", unit="W/K",
                        start=cell.thermal.heat_transfer_W_per_K, min=0.0, max=1e6), "thermal.heat_transfer_W_per_K",
               "heat_transfer_W_per_K"),
        _Param(Variable("numRCPairs", "parameter", "number of RC pairs used (at most as many as the parameter file has)",
                        type="Integer", start=len(cell.rc_branches), min=0, max=MAX_RC), "rc_branches", ""),
        _Param(Variable("initialCycles", "parameter", "equivalent full discharges done before the start (cycling "
                        "aging; a file without cycling aging: 0 only)", unit="1",
                        start=aging.initial_cycles if aging else 0.0, min=0.0, max=1e7),
               "cycling_aging.initial_cycles", "initial_cycles"),
        *_trigger_params(cell, "internal_short", "internalShort", "internal short", "internal_short"),
        *_trigger_params(cell, "series_resistance", "seriesFault", "added series resistance", "series_resistance"),
        *_trigger_params(cell, "exothermic_reaction", "exotherm", "exothermic reaction", "exotherm"),
        _Param(Variable("currentLimit", "parameter", "largest accepted |current| input; beyond it a step fails "
                        "(default 20C)", unit="A", start=current_limit_A(cell), min=0.0, max=1e9), "",
               "current_limit_A"),
        _Param(Variable("socLimitIsError", "parameter", "SOC leaving its limits fails the step instead of warning",
                        type="Boolean", start=False), "", ""),
    )


# Tables also exposed as array parameters: FMI name stem -> (parameter-file path, unit, value
# range: the file's physical range, so that a native FMU, which has no parameter-file validation,
# refuses what the file would). Sizes are those of the built-in parameter file; a table set this
# way replaces the file's.
TABLE_PATHS: dict[str, tuple[str, str, tuple[float, float]]] = {
    "ocv": ("ocv_V", "V", (0.0, 10.0)),
    "r0": ("r0_ohm", "Ohm", (1e-12, 1e3)),
    "r0Charge": ("r0_charge_ohm", "Ohm", (1e-12, 1e3)),
    "rc1Resistance": ("rc_branches.0.resistance_ohm", "Ohm", (1e-12, 1e3)),
    "rc1TimeConstant": ("rc_branches.0.time_constant_s", "s", (1e-12, 1e7)),
    "rc1ResistanceCharge": ("rc_branches.0.resistance_charge_ohm", "Ohm", (1e-12, 1e3)),
    "rc1TimeConstantCharge": ("rc_branches.0.time_constant_charge_s", "s", (1e-12, 1e7)),
    "entropicCoefficient": ("entropic_coefficient_V_per_K", "V/K", (-1e-2, 1e-2)),
}
#: the equations' name of each exposed table
TABLE_KEYS = {"ocv": "ocv_V", "r0": "r0_ohm", "r0Charge": "r0_charge_ohm", "rc1Resistance": "rc1_resistance_ohm",
              "rc1TimeConstant": "rc1_time_constant_s", "rc1ResistanceCharge": "rc1_resistance_charge_ohm",
              "rc1TimeConstantCharge": "rc1_time_constant_charge_s",
              "entropicCoefficient": "entropic_coefficient_V_per_K"}
_AXES = (("soc", "soc", "1", "SOC breakpoints", (-0.5, 1.5)),
         ("temperature_K", "temperature", "K", "temperature breakpoints", (T_MIN_K, T_MAX_K)))


@dataclass(frozen=True)
class _TableVar:
    """An array parameter holding one axis or the values of an exposed table."""

    variable: Variable
    stem: str
    field: str  # "soc", "temperature_K" or "values"


def _table_variables(params: CellParameters) -> tuple[_TableVar, ...]:
    """Every axis and the values of each exposed table, sized and started from ``params``."""
    data = params.model_dump()
    out = []
    for stem, (path, unit, (v_lo, v_hi)) in TABLE_PATHS.items():
        table = _get_path(data, path)
        if not isinstance(table, dict):
            continue
        for field, axis, axis_unit, what, (lo, hi) in _AXES:
            if table.get(field) is not None:
                out.append(_TableVar(Variable(f"table.{stem}.{axis}", "parameter", f"{path}: {what} (array)",
                                              unit=axis_unit, start=list(table[field]),
                                              dimensions=(len(table[field]),), increasing=True, min=lo, max=hi),
                                     stem, field))
        values = np.asarray(table["values"], dtype=float)
        out.append(_TableVar(Variable(f"table.{stem}.values", "parameter", f"{path}: values over the grid, row-major "
                                      "(rows over SOC, columns over temperature) (array)", unit=unit,
                                      start=values.ravel().tolist() if values.ndim else float(values),
                                      dimensions=values.shape, min=v_lo, max=v_hi), stem, "values"))
    return tuple(out)


def _inputs(cell: CellParameters) -> tuple[tuple[Variable, str], ...]:
    """The inputs (variable, twin input key); the current's range is +-currentLimit."""
    return (
        (Variable("current", "input", "requested cell current, positive = discharge; range +-currentLimit", unit="A",
                  start=0.0, min="-currentLimit", max="currentLimit"), "current_A"),
        (Variable("ambientTemperature", "input", "ambient (coolant) temperature", unit="K", start=298.15,
                  min=T_MIN_K, max=T_MAX_K), "ambient_temperature_K"),
        (Variable("heatFlow", "input", "external heat flow into the cell", unit="W", start=0.0), "heat_flow_W"),
    )


def _outputs(cell: CellParameters) -> tuple[tuple[Variable, str], ...]:
    """The outputs (variable, twin output key); SOC warns outside the file's soc_limits."""
    return (
        (Variable("batteryCurrent", "output", "actual cell current, positive = discharge (0 when open)", unit="A"),
         "current_A"),
        (Variable("batteryVoltage", "output", "terminal voltage", unit="V"), "voltage_V"),
        (Variable("batteryTemperature", "output", "cell temperature (mean of thermal nodes)", unit="K"),
         "temperature_K"),
        (Variable("stateOfCharge", "output", f"state of charge: remaining charge / nominalCapacity ({cell.capacity_basis} "
                  "capacity); a warning outside the file's soc_limits", unit="1", warn_range=cell.soc_limits), "soc"),
        (Variable("charge", "output", "remaining charge SOC * capacity", unit="As"), "charge_As"),
        (Variable("capacity", "output", "present (aged) capacity", unit="As"), "capacity_As"),
        (Variable("ocv", "output", "open-circuit voltage", unit="V"), "ocv_V"),
        (Variable("heatGenerationRate", "output", "total heat generated, average over the last step", unit="W"),
         "heat_generation_W"),
        (Variable("powerDissipated", "output", "resistive, hysteresis, self-discharge and short losses, step average",
                  unit="W"), "power_dissipated_W"),
        (Variable("reversibleHeat", "output", "entropic heat -I T dOCV/dT, step average", unit="W"),
         "reversible_heat_W"),
        (Variable("reactionHeatRate", "output", "exothermic reaction heat, step average", unit="W"), "reaction_heat_W"),
        (Variable("reactionExtent", "output", "exothermic reaction extent", unit="1"), "reaction_extent"),
        (Variable("hysteresisState", "output", "hysteresis state H in [-1, 1]", unit="1"), "hysteresis_state"),
        (Variable("numCycles", "output", "equivalent full discharges", unit="1"), "num_cycles"),
        (Variable("terminalEnergy", "output", "energy delivered at the terminals since start (discharge +)", unit="J"),
         "terminal_energy_J"),
        (Variable("heatGenerated", "output", "heat generated since start", unit="J"), "heat_generated_J"),
        (Variable("isCurrentInterruptionTempExceeded", "output", "current interrupt device has opened",
                  type="Boolean"), "is_current_interrupted"),
        (Variable("isExothermFaulted", "output", "exothermic reaction fault is active", type="Boolean"),
         "is_exotherm_faulted"),
    ) + tuple((Variable(f"voltageDropRC{i}", "output", f"voltage across RC pair {i} (0 if absent)", unit="V"),
               f"rc_voltage_{i}_V") for i in range(1, MAX_RC + 1))


@dataclass(frozen=True)
class Declaration:
    """Every exposed variable of the cell ECM twin, started from one parameter set."""

    params: CellParameters
    parameters: tuple[_Param, ...]
    tables: tuple[_TableVar, ...]
    inputs: tuple[tuple[Variable, str], ...]
    outputs: tuple[tuple[Variable, str], ...]

    @property
    def variables(self) -> tuple[Variable, ...]:
        return (tuple(p.variable for p in self.parameters) + tuple(t.variable for t in self.tables)
                + tuple(v for v, _ in self.inputs) + tuple(v for v, _ in self.outputs))


def declare(params: CellParameters) -> Declaration:
    """The declaration of a cell twin whose built-in parameter set is ``params``."""
    return Declaration(params, _parameters(params), _table_variables(params), _inputs(params), _outputs(params))


def _set_path(data: dict[str, Any], path: str, value: Any, var: Variable) -> None:
    """Set a parameter-file entry; a value for a block the file lacks is refused, unless it is the
    declared start (the feature's neutral value: setting it changes nothing)."""
    *parents, last = path.split(".")
    node = _get_path(data, ".".join(parents)) if parents else data
    if not isinstance(node, dict):
        if value == var.start:
            return
        raise ModelError(f"parameter {var.name} = {value}: the parameter file has no '{'.'.join(parents)}' block "
                         f"(add it to the parameter file to use {var.name})")
    node[last] = value


def _apply_tables(data: dict[str, Any], values: Mapping[str, Any], overridden: set[str],
                  tables: tuple[_TableVar, ...]) -> None:
    """Replace the tables whose array parameters were set."""
    for stem, (path, _, _) in TABLE_PATHS.items():
        fields = {t.field: np.asarray(values[t.variable.name]) for t in tables
                  if t.stem == stem and t.variable.name in overridden}
        if not fields:
            continue
        table = _get_path(data, path)
        if not isinstance(table, dict):
            raise ModelError(f"parameter table.{stem}: the parameter file has no table {path} to replace")
        table.update({k: v.tolist() for k, v in fields.items() if k != "values"})
        flat = np.ravel(fields["values"] if "values" in fields else table["values"]).tolist()
        shape = [len(table[f]) for f in ("soc", "temperature_K") if table.get(f) is not None]
        if len(flat) != int(np.prod(shape)):
            raise ModelError(f"parameter table.{stem}.values ({path}): {len(flat)} values for a grid of shape "
                             f"{tuple(shape)}")
        table["values"] = np.reshape(flat, shape).tolist() if shape else flat[0]


class CellECMModel:
    """Drives one :class:`CellECMTwin` from FMI-named values."""

    def __init__(self, parameter_file: str | Path | None = None) -> None:
        try:
            self.declaration = declare(built_in_parameters(parameter_file))
        except ParameterError as exc:
            raise ModelError(f"the FMU's built-in parameter file: {exc}") from None
        self.variables = self.declaration.variables
        self.input_keys = {var.name: key for var, key in self.declaration.inputs}
        self.twin: CellECMTwin | None = None

    def parameters(self, values: Mapping[str, Any], overridden: set[str]) -> CellParameters:
        """The parameter file with the overridden parameters applied, validated."""
        path = str(values.get("parameterFile") or "")
        try:
            base = CellParameters.load(path) if path else self.declaration.params
        except (ParameterError, OSError) as exc:
            raise ModelError(f"parameter parameterFile = {path!r}: {exc}") from None
        data = base.model_dump(exclude_none=True)
        for p in self.declaration.parameters:
            var = p.variable
            if var.name not in overridden or not p.path:
                continue
            value = values[var.name]
            if p.path == "rc_branches":
                if not 0 <= int(value) <= len(base.rc_branches):
                    raise ModelError(f"parameter numRCPairs = {value}: the parameter file has "
                                     f"{len(base.rc_branches)} RC pairs")
                data["rc_branches"] = data["rc_branches"][: int(value)]
                data["initial"]["rc_voltages_V"] = data["initial"].get("rc_voltages_V", [])[: int(value)] or []
                continue
            _set_path(data, p.path, value, var)
        _apply_tables(data, values, overridden, self.declaration.tables)
        try:
            return CellParameters.from_dict(data, origin=path or "built-in parameters")
        except ParameterError as exc:
            raise ModelError(str(exc)) from None

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        params = self.parameters(parameters, overridden)
        self.twin = CellECMTwin(params, soc_limit_is_error=bool(parameters["socLimitIsError"]))
        saved = self.twin.get_state()
        try:  # the outputs at the initial state with the importer's inputs (a vanishing step, undone)
            y = self.twin.step(dt_s=LOOK_STEP_S, **self._twin_inputs(inputs))
        except (InputError, StateError, TableRangeError) as exc:
            raise ModelError(f"the initial state is not valid: {self._fmi_names(str(exc))}") from None
        self.twin.set_state(saved)
        return self._outputs(y)

    def _twin_inputs(self, inputs: Mapping[str, Any]) -> dict[str, float]:
        return {self.input_keys[name]: float(value) for name, value in inputs.items()}

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        assert self.twin is not None, "initialize() first"
        try:
            y = self.twin.step(dt_s=dt_s, **self._twin_inputs(inputs))
        except (InputError, StateError, TableRangeError) as exc:
            raise ModelError(self._fmi_names(str(exc))) from None
        return self._outputs(y)

    def _outputs(self, y: Mapping[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for var, key in self.declaration.outputs:
            value = float(y[key][0]) if key in y else 0.0
            out[var.name] = bool(value > 0.5) if var.type == "Boolean" else value
        return out

    def get_state(self) -> dict[str, Any]:
        assert self.twin is not None
        return {k: v.tolist() for k, v in self.twin.get_state().items()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        assert self.twin is not None
        self.twin.set_state({k: np.asarray(v, dtype=float) for k, v in state.items()})

    def _fmi_names(self, message: str) -> str:
        """Rename the twin's input names in a message to the declared variable names."""
        for name, key in self.input_keys.items():
            message = message.replace(f"input {key}", f"input {name}")
        return message

    def warnings(self) -> list[str]:
        """The twin's new warnings (a reduced ECM outside its fitted range): logged by the FMU."""
        if self.twin is None:
            return []
        new, self.twin.range_warnings = self.twin.range_warnings, []
        return new

    def output_dependencies(self) -> dict[str, tuple[str, ...]]:
        """Which inputs each output depends on, from the structure of the equations (the sparsity
        of the CasADi step's outputs in its inputs), for the built-in parameter set."""
        from fmutwin.symbolic import input_dependencies

        return input_dependencies(equation_spec(self.declaration.params))


# -- native (generated C) export --------------------------------------------------------------
# The native FMU fixes the model's structure when it is built: the parameter file, the number of
# RC pairs and socLimitIsError (which needs the Python twin) are not among its parameters; every
# other parameter sets a leaf of the equations' parameters, the tables (arrays, the sizes of the
# file it was built from) included. A parameter of a feature the built file does not have (a
# fault it lacks, cycling aging) is fixed at its neutral start: the structure has no place for it.

def equation_spec(params: CellParameters | None = None) -> EquationSpec:
    """What the native exporter needs: the equations' step and initial state, their numbers, and
    where each declared variable lives. Starts and table sizes come from ``params``."""
    from fmutwin.equations import cell

    params = params or default_cell_parameters()
    decl = declare(params)
    structure, p = equation_parameters(params)
    p = {**p, "current_limit_A": current_limit_A(params)}  # read by the current's range, not the equations
    present = {"cycling_aging.initial_cycles": params.cycling_aging is not None,
               **{f"faults.{f}": getattr(params.faults, f) is not None
                  for f in ("internal_short", "series_resistance", "exothermic_reaction")}}

    def fixed_if_absent(par: _Param) -> Variable:
        var = par.variable
        absent = any(par.path.startswith(prefix) and not there for prefix, there in present.items())
        return replace(var, min=var.start, max=var.start, description=var.description + " (fixed: the cell of "
                       "this FMU has no such feature)") if absent else var

    scalars = tuple((fixed_if_absent(par), par.leaf) for par in decl.parameters if par.leaf)
    tables = tuple((t.variable, f"{TABLE_KEYS[t.stem]}.{t.field}") for t in decl.tables
                   if TABLE_KEYS[t.stem] in p and t.field in p[TABLE_KEYS[t.stem]])
    return EquationSpec(
        step=cell.step, initial_state=cell.initial_state, structure=structure, p=p,
        state_names=tuple(structure.state_names()), input_names=cell.INPUTS, parameters=scalars + tables,
        inputs=decl.inputs, outputs=decl.outputs, dt_input="dt_s", time_state="time_s", derivatives=True)
