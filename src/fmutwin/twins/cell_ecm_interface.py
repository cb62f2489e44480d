"""The cell ECM twin's exposed variables (declared once) and the model the FMI layer drives.

Nothing here knows FMI: :func:`declare` lists :class:`fmutwin.interface.Variable` objects, and
:class:`CellECMModel` implements :class:`fmutwin.interface.SteppableModel`. Sign convention:
positive current discharges the cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.interface import InputError, ModelError, NativeSpec, StateError, Variable
from fmutwin.ops import TableRangeError
from fmutwin.params.cell import CellParameters, ParameterError
from fmutwin.params.defaults import default_cell_parameters
from fmutwin.twins.cell_ecm import CellECMTwin

MAX_RC = 3


@dataclass(frozen=True)
class _Param:
    """A scalar parameter: its declared variable plus the parameter-file path it overrides."""

    variable: Variable
    path: str  # dotted path in CellParameters, or "" for twin options


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


def _parameters(cell: CellParameters) -> tuple[_Param, ...]:
    """The scalar parameters, started from the parameter set ``cell``."""
    return (
        _Param(Variable("parameterFile", "parameter", "path of a cell parameter JSON file; empty: the file built "
                        "into the FMU (by default PyBaMM's ECM example). Scalar parameters set in the "
                        "importer override the file.",
                        type="String", start=""), ""),
        _Param(Variable("nominalCapacity", "parameter", "nominal capacity (1 Ah = 3600 As)", unit="As",
                        start=cell.nominal_capacity_As, min=1e-9), "nominal_capacity_As"),
        _Param(Variable("initialSoc", "parameter", "initial state of charge", unit="1", start=cell.initial.soc,
                        min=0.0, max=1.0), "initial.soc"),
        _Param(Variable("initialTemperature", "parameter", "initial cell temperature", unit="K",
                        start=cell.initial.temperature_K, min=1e-9), "initial.temperature_K"),
        _Param(Variable("thermalMass", "parameter", "cell heat capacity m*cp", unit="J/K",
                        start=cell.thermal.mass_J_per_K, min=1e-9), "thermal.mass_J_per_K"),
        _Param(Variable("heatTransferCoefficient", "parameter", "convective conductance h*A to ambient", unit="W/K",
                        start=cell.thermal.heat_transfer_W_per_K, min=0.0), "thermal.heat_transfer_W_per_K"),
        _Param(Variable("numRCPairs", "parameter", "number of RC pairs used (at most as many as the parameter file has)",
                        type="Integer", start=len(cell.rc_branches), min=0, max=MAX_RC), "rc_branches"),
        _Param(Variable("initialCycles", "parameter", "equivalent full discharges done before the start (cycling aging)",
                        unit="1", start=0.0, min=0.0), "cycling_aging.initial_cycles"),
        _Param(Variable("internalShortTriggerTime", "parameter", "internal short: activation time (time trigger)",
                        unit="s", start=0.0, min=0.0), "faults.internal_short.trigger.time_s"),
        _Param(Variable("internalShortTriggerTemperature", "parameter",
                        "internal short: activation temperature (temperature trigger)", unit="K", start=1e4, min=1e-9),
               "faults.internal_short.trigger.temperature_K"),
        _Param(Variable("seriesFaultTriggerTime", "parameter", "added series resistance: activation time", unit="s",
                        start=0.0, min=0.0), "faults.series_resistance.trigger.time_s"),
        _Param(Variable("seriesFaultTriggerTemperature", "parameter", "added series resistance: activation temperature",
                        unit="K", start=1e4, min=1e-9), "faults.series_resistance.trigger.temperature_K"),
        _Param(Variable("exothermTriggerTime", "parameter", "exothermic reaction: activation time", unit="s",
                        start=0.0, min=0.0), "faults.exothermic_reaction.trigger.time_s"),
        _Param(Variable("exothermTriggerTemperature", "parameter", "exothermic reaction: activation temperature",
                        unit="K", start=1e4, min=1e-9), "faults.exothermic_reaction.trigger.temperature_K"),
        _Param(Variable("currentLimit", "parameter", "largest accepted |current| input; beyond it a step fails",
                        unit="A", start=current_limit_A(cell), min=0.0), ""),
        _Param(Variable("socLimitIsError", "parameter", "SOC leaving its limits fails the step instead of warning",
                        type="Boolean", start=False), ""),
    )

# Tables also exposed as FMI 3.0 array parameters: FMI name stem -> (parameter-file path, unit).
# Sizes are those of the built-in parameter file; a table set this way replaces the file's.
TABLE_PATHS: dict[str, tuple[str, str]] = {  # the equations name these tables TABLE_KEYS[stem]
    "ocv": ("ocv_V", "V"),
    "r0": ("r0_ohm", "Ohm"),
    "r0Charge": ("r0_charge_ohm", "Ohm"),
    "rc1Resistance": ("rc_branches.0.resistance_ohm", "Ohm"),
    "rc1TimeConstant": ("rc_branches.0.time_constant_s", "s"),
    "rc1ResistanceCharge": ("rc_branches.0.resistance_charge_ohm", "Ohm"),
    "rc1TimeConstantCharge": ("rc_branches.0.time_constant_charge_s", "s"),
    "entropicCoefficient": ("entropic_coefficient_V_per_K", "V/K"),
}
TABLE_KEYS = {"ocv": "ocv_V", "r0": "r0_ohm", "r0Charge": "r0_charge_ohm", "rc1Resistance": "rc1_resistance_ohm",
              "rc1TimeConstant": "rc1_time_constant_s", "rc1ResistanceCharge": "rc1_resistance_charge_ohm",
              "rc1TimeConstantCharge": "rc1_time_constant_charge_s",
              "entropicCoefficient": "entropic_coefficient_V_per_K"}
_AXES = (("soc", "soc", "1", "SOC breakpoints"), ("temperature_K", "temperature", "K", "temperature breakpoints"))


def _get_path(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data.get(part) if isinstance(data, dict) else None
        if data is None:
            return None
    return data


def _table_variables(params: CellParameters) -> tuple[tuple[Variable, str, str], ...]:
    """(variable, table stem, table field) for every axis and the values of each exposed table,
    sized and started from ``params``."""
    data = params.model_dump()
    out = []
    for stem, (path, unit) in TABLE_PATHS.items():
        table = _get_path(data, path)
        if not isinstance(table, dict):
            continue
        for field, axis, axis_unit, what in _AXES:
            if table.get(field) is not None:
                out.append((Variable(f"table.{stem}.{axis}", "parameter", f"{path}: {what} (array)",
                                     unit=axis_unit, start=list(table[field]), dimensions=(len(table[field]),),
                                     increasing=True),
                            stem, field))
        values = np.asarray(table["values"], dtype=float)
        out.append((Variable(f"table.{stem}.values", "parameter", f"{path}: values over the grid, row-major "
                             "(rows over SOC, columns over temperature) (array)", unit=unit,
                             start=values.ravel().tolist() if values.ndim else float(values),
                             dimensions=values.shape), stem, "values"))
    return tuple(out)


def _inputs(cell: CellParameters) -> tuple[tuple[Variable, str], ...]:
    """The inputs (FMI variable, twin input key); the current range is the default current limit."""
    limit = current_limit_A(cell)
    return (
        (Variable("current", "input", "requested cell current, positive = discharge", unit="A", start=0.0,
                  min=-limit, max=limit), "current_A"),
        (Variable("ambientTemperature", "input", "ambient (coolant) temperature", unit="K", start=298.15, min=0.0),
         "ambient_temperature_K"),
        (Variable("heatFlow", "input", "external heat flow into the cell", unit="W", start=0.0), "heat_flow_W"),
    )

OUTPUTS: tuple[tuple[Variable, str], ...] = (
    (Variable("batteryCurrent", "output", "actual cell current, positive = discharge (0 when open)", unit="A"),
     "current_A"),
    (Variable("batteryVoltage", "output", "terminal voltage", unit="V"), "voltage_V"),
    (Variable("batteryTemperature", "output", "cell temperature (mean of thermal nodes)", unit="K"), "temperature_K"),
    (Variable("stateOfCharge", "output", "state of charge", unit="1"), "soc"),
    (Variable("charge", "output", "remaining charge SOC * capacity", unit="As"), "charge_As"),
    (Variable("capacity", "output", "present (aged) capacity", unit="As"), "capacity_As"),
    (Variable("ocv", "output", "open-circuit voltage", unit="V"), "ocv_V"),
    (Variable("heatGenerationRate", "output", "total heat generated, average over the last step", unit="W"),
     "heat_generation_W"),
    (Variable("powerDissipated", "output", "resistive, hysteresis, self-discharge and short losses, step average",
              unit="W"), "power_dissipated_W"),
    (Variable("reversibleHeat", "output", "entropic heat -I T dOCV/dT, step average", unit="W"), "reversible_heat_W"),
    (Variable("reactionHeatRate", "output", "exothermic reaction heat, step average", unit="W"), "reaction_heat_W"),
    (Variable("reactionExtent", "output", "exothermic reaction extent", unit="1"), "reaction_extent"),
    (Variable("hysteresisState", "output", "hysteresis state H in [-1, 1]", unit="1"), "hysteresis_state"),
    (Variable("numCycles", "output", "equivalent full discharges", unit="1"), "num_cycles"),
    (Variable("terminalEnergy", "output", "energy delivered at the terminals since start (discharge +)", unit="J"),
     "terminal_energy_J"),
    (Variable("heatGenerated", "output", "heat generated since start", unit="J"), "heat_generated_J"),
    (Variable("isCurrentInterruptionTempExceeded", "output", "current interrupt device has opened", type="Boolean"),
     "is_current_interrupted"),
    (Variable("isExothermFaulted", "output", "exothermic reaction fault is active", type="Boolean"),
     "is_exotherm_faulted"),
) + tuple((Variable(f"voltageDropRC{i}", "output", f"voltage across RC pair {i} (0 if absent)", unit="V"),
           f"rc_voltage_{i}_V") for i in range(1, MAX_RC + 1))

@dataclass(frozen=True)
class Declaration:
    """Every exposed variable of the cell ECM twin, started from one parameter set."""

    params: CellParameters
    parameters: tuple[_Param, ...]
    tables: tuple[tuple[Variable, str, str], ...]  # (variable, table stem, table field)
    inputs: tuple[tuple[Variable, str], ...]

    @property
    def variables(self) -> tuple[Variable, ...]:
        return (tuple(p.variable for p in self.parameters) + tuple(v for v, _, _ in self.tables)
                + tuple(v for v, _ in self.inputs) + tuple(v for v, _ in OUTPUTS))


def declare(params: CellParameters) -> Declaration:
    """The declaration of a cell twin whose built-in parameter set is ``params``."""
    return Declaration(params, _parameters(params), _table_variables(params), _inputs(params))




def _set_path(data: dict[str, Any], path: str, value: Any, name: str) -> None:
    *parents, last = path.split(".")
    node = _get_path(data, ".".join(parents)) if parents else data
    if not isinstance(node, dict):
        raise ModelError(f"parameter {name}: the parameter file has no '{'.'.join(parents)}' block "
                         f"(set it in the parameter file to use {name})")
    node[last] = value


def _apply_tables(data: dict[str, Any], values: Mapping[str, Any], overridden: set[str],
                  tables: tuple[tuple[Variable, str, str], ...]) -> None:
    """Replace the tables whose FMI 3.0 array parameters were set."""
    for stem, (path, _) in TABLE_PATHS.items():
        fields = {field: values[var.name] for var, s, field in tables if s == stem and var.name in overridden}
        if not fields:
            continue
        table = _get_path(data, path)
        if not isinstance(table, dict):
            raise ModelError(f"parameter table.{stem}: the parameter file has no table {path} to replace")
        table.update({k: v for k, v in fields.items() if k != "values"})
        flat = np.ravel(fields.get("values", table["values"])).tolist()
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
        self.current_limit_A = current_limit_A(self.declaration.params)
        self._warnings: list[str] = []

    def parameters(self, values: Mapping[str, Any], overridden: set[str]) -> CellParameters:
        """The parameter file with the overridden scalar parameters applied, validated."""
        path = str(values.get("parameterFile") or "")
        try:
            base = CellParameters.load(path) if path else self.declaration.params
        except (ParameterError, OSError) as exc:
            raise ModelError(f"parameter parameterFile = {path!r}: {exc}") from None
        data = base.model_dump(exclude_none=True)
        for p in self.declaration.parameters:
            name = p.variable.name
            if name not in overridden or not p.path:
                continue
            value = values[name]
            if p.path == "rc_branches":
                if not 0 <= int(value) <= len(base.rc_branches):
                    raise ModelError(f"parameter numRCPairs = {value}: the parameter file has "
                                     f"{len(base.rc_branches)} RC pairs")
                data["rc_branches"] = data["rc_branches"][: int(value)]
                data["initial"]["rc_voltages_V"] = data["initial"].get("rc_voltages_V", [])[: int(value)] or []
                continue
            _set_path(data, p.path, value, name)
        _apply_tables(data, values, overridden, self.declaration.tables)
        try:
            return CellParameters.from_dict(data, origin=path or "built-in parameters")
        except ParameterError as exc:
            raise ModelError(str(exc)) from None

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str]) -> dict[str, Any]:
        params = self.parameters(parameters, overridden)
        self.current_limit_A = float(parameters["currentLimit"])
        self.twin = CellECMTwin(params, soc_limit_is_error=bool(parameters["socLimitIsError"]))
        return self._outputs(self._rest_outputs())

    def _rest_outputs(self) -> dict[str, np.ndarray]:
        """Outputs at the initial state: a zero-length look, computed by a zero-current step
        on a copy of the state, so the twin itself does not advance."""
        assert self.twin is not None
        saved = self.twin.get_state()
        ambient = float(self.twin.state["node_temperature_1_K"][0])
        try:
            y = self.twin.step(0.0, 1e-12, ambient)
        except (InputError, StateError, TableRangeError) as exc:
            raise ModelError(f"the initial state is not valid: {exc}") from None
        self.twin.set_state(saved)
        return y

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        assert self.twin is not None, "initialize() first"
        current = float(inputs["current"])
        if abs(current) > self.current_limit_A:
            raise ModelError(f"input current = {current} A is beyond currentLimit = {self.current_limit_A} A")
        args = {self.input_keys[name]: float(value) for name, value in inputs.items()}
        try:
            y = self.twin.step(dt_s=dt_s, **args)
        except (InputError, StateError, TableRangeError) as exc:
            raise ModelError(self._fmi_names(str(exc))) from None
        soc = float(y["soc"][0])
        lo, hi = self.twin.params.soc_limits
        if not lo <= soc <= hi:
            self._warnings.append(f"stateOfCharge = {soc:.6g} outside [{lo}, {hi}] at t = {time_s + dt_s} s")
        return self._outputs(y)

    def _outputs(self, y: Mapping[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for var, key in OUTPUTS:
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
        out, self._warnings = self._warnings, []
        return out


# -- native (generated C) export --------------------------------------------------------------
# Declared parameters the native FMU supports, and what each one sets: a numeric parameter of
# the equations ("p", leaf path), every initial-state entry whose name starts with a prefix
# ("x0", prefix), or the shell's current limit ("limit"). The parameter file, the number of RC
# pairs and socLimitIsError change the model's structure or need Python, so the native FMU
# fixes them at build time. FMI 3.0 native FMUs also take the tables as arrays (same sizes as
# the parameter file they were built from), so one binary serves every such parameter set.
NATIVE_PARAMETERS: dict[str, tuple[str, str]] = {
    "nominalCapacity": ("p", "nominal_capacity_As"),
    "initialSoc": ("x0", "soc"),
    "initialTemperature": ("x0", "node_temperature_"),
    "thermalMass": ("p", "mass_J_per_K"),
    "heatTransferCoefficient": ("p", "heat_transfer_W_per_K"),
    "initialCycles": ("x0", "num_cycles"),
    "internalShortTriggerTime": ("p", "internal_short_trigger_time_s"),
    "internalShortTriggerTemperature": ("p", "internal_short_trigger_temperature_K"),
    "seriesFaultTriggerTime": ("p", "series_resistance_trigger_time_s"),
    "seriesFaultTriggerTemperature": ("p", "series_resistance_trigger_temperature_K"),
    "exothermTriggerTime": ("p", "exotherm_trigger_time_s"),
    "exothermTriggerTemperature": ("p", "exotherm_trigger_temperature_K"),
    "currentLimit": ("limit", ""),
}


def _leaf_paths(p: dict[str, Any]) -> set[str]:
    from fmutwin.symbolic import ParameterLayout

    return set(ParameterLayout.of(p).paths)


def native_spec(params: CellParameters | None = None) -> NativeSpec:
    """What the native exporter needs: the equations' step, its numbers, and the bindings.

    Start values and table sizes come from ``params`` (the numbers compiled into the FMU).
    """
    from dataclasses import replace

    from fmutwin.equations import cell
    from fmutwin.twins.cell_ecm import equation_parameters, initial_state

    params = params or default_cell_parameters()
    decl = declare(params)
    structure, p = equation_parameters(params)
    x0 = {k: float(v[0]) for k, v in initial_state(structure, params, 1).items()}
    declared = {v.name: v for v in decl.variables}

    def start(kind: str, target: str) -> float:
        if kind == "p":
            return float(p[target])
        if kind == "x0":
            return next(v for k, v in x0.items() if k.startswith(target))
        return current_limit_A(params)

    scalars = tuple((replace(declared[name], start=start(kind, target)), kind, target)
                    for name, (kind, target) in NATIVE_PARAMETERS.items())
    leaves = _leaf_paths(p)
    tables = tuple((var, "p", f"{TABLE_KEYS[stem]}.{field}") for var, stem, field in decl.tables
                   if f"{TABLE_KEYS[stem]}.{field}" in leaves)
    return NativeSpec(
        step=cell.step, structure=structure, p=p, x0=x0, state_names=tuple(structure.state_names()),
        input_names=cell.INPUTS, parameters=scalars + tables, inputs=decl.inputs, outputs=OUTPUTS,
        limited_input="current_A", dt_input="dt_s", time_state="time_s", warned_output="soc",
        warn_range=params.soc_limits, limit_default=current_limit_A(params))
