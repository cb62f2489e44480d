"""The cell equivalent-circuit twin: holds state, steps the cell equations on numpy arrays.

One twin may hold many cells (``n_cells``): every state is an array with one entry per cell and
every scalar parameter may be given per cell, so a single :meth:`CellECMTwin.step` call advances a
whole module. Sign convention: positive current discharges the cell.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Mapping

import numpy as np

from fmutwin.equations import cell
from fmutwin.equations.cell import CellStructure
from fmutwin.equations.faults import TEMPERATURE_TRIGGER, TIME_TRIGGER
from fmutwin.equations.tables import TableShape
from fmutwin.interface import InputError, StateError
from fmutwin.ops import NUMPY
from fmutwin.params.cell import CellParameters, Trigger
from fmutwin.params.tables import Table
from fmutwin.twins.profile import run_profile

log = logging.getLogger(__name__)


def _table_data(table: Table) -> dict[str, Any]:
    data: dict[str, Any] = {"values": table.array}
    if table.soc is not None:
        data["soc"] = np.asarray(table.soc, dtype=float)
    if table.temperature_K is not None:
        data["temperature_K"] = np.asarray(table.temperature_K, dtype=float)
    return data


def _shape(table: Table) -> TableShape:
    return TableShape(len(table.soc or ()), len(table.temperature_K or ()), table.extrapolation)


def _as_table(value: Table | float) -> Table:
    return value if isinstance(value, Table) else Table(values=float(value))


def _trigger(prefix: str, trigger: Trigger | None) -> dict[str, float]:
    """A fault's trigger as numbers; an absent fault has the trigger's defaults (time 0 s,
    temperature 1e4 K: never), which its equations never read."""
    trigger = trigger or Trigger(kind="time")
    return {f"{prefix}_trigger_kind": TEMPERATURE_TRIGGER if trigger.kind == "temperature" else TIME_TRIGGER,
            f"{prefix}_trigger_time_s": trigger.time_s, f"{prefix}_trigger_temperature_K": trigger.temperature_K}


def equation_parameters(params: CellParameters) -> tuple[CellStructure, dict[str, Any]]:
    """Split a parameter set into the static structure and the numeric parameters ``p``.

    ``p`` holds every number the equations read (tables as grid/value arrays); the CasADi form
    replaces each of them by a symbol of the same shape.
    """
    tables: dict[str, Table] = {"ocv_V": params.ocv_V, "r0_ohm": params.r0_ohm,
                                "entropic_coefficient_V_per_K": _as_table(params.entropic_coefficient_V_per_K)}
    if params.r0_charge_ohm is not None:
        tables["r0_charge_ohm"] = params.r0_charge_ohm
    for i, branch in enumerate(params.rc_branches, start=1):
        tables[f"rc{i}_resistance_ohm"] = branch.resistance_ohm
        tables[f"rc{i}_time_constant_s"] = branch.time_constant_s
        if branch.resistance_charge_ohm is not None:
            tables[f"rc{i}_resistance_charge_ohm"] = branch.resistance_charge_ohm
        if branch.time_constant_charge_s is not None:
            tables[f"rc{i}_time_constant_charge_s"] = branch.time_constant_charge_s
    hyst = params.hysteresis
    if hyst is not None:
        tables["hysteresis_max_voltage_V"] = hyst.max_voltage_V
        tables["hysteresis_instantaneous_voltage_V"] = _as_table(hyst.instantaneous_voltage_V)
    if params.self_discharge_resistance_ohm is not None:
        tables["self_discharge_resistance_ohm"] = params.self_discharge_resistance_ohm
    if params.charge_transfer is not None:
        tables["charge_transfer_voltage_V"] = params.charge_transfer.voltage_V
        tables["charge_transfer_current_A"] = _as_table(params.charge_transfer.current_A)
    if params.concentration is not None:
        tables["concentration_coefficient_V"] = _as_table(params.concentration.coefficient_V)
        tables["concentration_time_constant_s"] = _as_table(params.concentration.time_constant_s)

    th = params.thermal
    f = params.faults
    p: dict[str, Any] = {name: _table_data(t) for name, t in tables.items()}
    p.update({
        "nominal_capacity_As": params.nominal_capacity_As,
        "mass_J_per_K": th.mass_J_per_K,
        "heat_transfer_W_per_K": th.heat_transfer_W_per_K,
        "node_conductance_W_per_K": th.node_conductance_W_per_K,
        "hysteresis_rate": hyst.rate if hyst else 0.0,
        "capacity_calendar_factor": 1.0,
        "r0_calendar_factor": 1.0,
        "r0_scale": 1.0,  # cell-to-cell variation (a module's cells): R0 and the RC resistances scaled
        "rc_resistance_scale": 1.0,
        "internal_short_scale": 1.0,  # a module's cells: the short's conductance scaled (0: no short)
        "charge_transfer_current_scale": 1.0,  # I_ct scaled: n for an element of n cells in parallel
    })
    ca = params.cycling_aging
    p.update({"reference_cycles": ca.reference_cycles if ca else 1.0,
              "capacity_change_percent": ca.capacity_change_percent if ca else 0.0,
              "resistance_change_percent": ca.resistance_change_percent if ca else 0.0,
              "ocv_change_percent": ca.ocv_change_percent if ca else 0.0})
    cal = params.calendar_aging
    if cal is not None:
        p.update({k: float(getattr(cal, k)) for k in (
            "storage_time_s", "storage_temperature_K", "storage_soc", "reference_time_s", "reference_temperature_K",
            "reference_stress", "capacity_loss_percent", "resistance_increase_percent", "time_exponent",
            "activation_energy_J_per_mol", "stress_coefficient")})
        p["storage_variable_is_ocv"] = 1.0 if cal.storage_variable == "ocv" else 0.0
    p.update(_trigger("internal_short", f.internal_short.trigger if f.internal_short else None))
    p.update(_trigger("series_resistance", f.series_resistance.trigger if f.series_resistance else None))
    p.update(_trigger("exotherm", f.exothermic_reaction.trigger if f.exothermic_reaction else None))
    p["internal_short_resistance_ohm"] = f.internal_short.resistance_ohm if f.internal_short else 1.0
    p["series_resistance_ohm"] = f.series_resistance.resistance_ohm if f.series_resistance else 0.0
    p["series_open_circuit"] = 1.0 if f.series_resistance and f.series_resistance.open_circuit else 0.0
    exo = f.exothermic_reaction
    p.update({"onset_temperature_K": exo.onset_temperature_K if exo else 1.0,
              "reaction_activation_energy_J_per_mol": exo.activation_energy_J_per_mol if exo else 0.0,
              "reaction_order": exo.reaction_order if exo else 1.0,
              "reaction_heat_J": exo.reaction_heat_J if exo else 1.0,
              "vented_mass_fraction": exo.vented_mass_fraction if exo else 0.0,
              "burnt_extent": exo.burnt_extent if exo else 1.0})
    p["interruption_temperature_K"] = f.current_interruption.temperature_K if f.current_interruption else 1e9
    ini = params.initial
    p.update({"initial_soc": ini.soc, "initial_temperature_K": ini.temperature_K,
              "initial_cycles": ca.initial_cycles if ca else 0.0,
              "initial_hysteresis_state": hyst.initial_state if hyst else 0.0})
    for i in range(len(params.rc_branches)):
        p[f"initial_rc_voltage_{i + 1}_V"] = ini.rc_voltages_V[i] if ini.rc_voltages_V else 0.0

    structure = CellStructure(
        n_rc=len(params.rc_branches), thermal_model=th.model, n_nodes=th.nodes,
        tables={name: _shape(t) for name, t in tables.items()},
        hysteresis=hyst is not None, self_discharge=params.self_discharge_resistance_ohm is not None,
        cycling_aging=ca is not None, calendar_aging=cal is not None,
        internal_short=f.internal_short is not None, series_resistance=f.series_resistance is not None,
        exothermic_reaction=exo is not None, current_interruption=f.current_interruption is not None,
        charge_transfer=params.charge_transfer is not None, concentration=params.concentration is not None)
    cap_factor, r0_factor = cell.calendar_factors(NUMPY, structure, p)
    p["capacity_calendar_factor"] = float(cap_factor)
    p["r0_calendar_factor"] = float(r0_factor)
    return structure, p


#: a reduced ECM warns at temperatures more than this outside the ones it was fitted at (its
#: tables hold their edge values there; a cell warming by a few kelvin is not an extrapolation)
FITTED_TEMPERATURE_MARGIN_K = 5.0
#: what the fitted-range check watches, each warned about once
FITTED_RANGE_KINDS = ("discharge current", "charge current", "temperature above", "temperature below")


class FittedRangeWarning(UserWarning):
    """A reduced ECM driven beyond the current or temperature range it was fitted on."""


class CellECMTwin:
    """Cell (or many cells) of an equivalent-circuit model, stepped with numpy.

    ``overrides`` replaces scalar equation parameters, optionally per cell (arrays of length
    ``n_cells``), e.g. ``{"nominal_capacity_As": caps, "initial_soc": socs}`` for cell-to-cell
    variation (the initial state follows the ``initial_*`` parameters).
    """

    def __init__(self, params: CellParameters, n_cells: int = 1,
                 overrides: Mapping[str, float | np.ndarray] | None = None,
                 soc_limit_is_error: bool = False) -> None:
        self.params = params
        self.n_cells = n_cells
        self.structure, self.p = equation_parameters(params)
        for key, value in (overrides or {}).items():
            if key not in self.p or isinstance(self.p[key], dict):
                raise KeyError(f"override {key!r}: not a scalar parameter of this cell")
            self.p[key] = np.broadcast_to(np.asarray(value, dtype=float), (n_cells,)).copy()
        if overrides:  # calendar aging depends on parameters that may have been overridden per cell
            cap_factor, r0_factor = cell.calendar_factors(NUMPY, self.structure, self.p)
            self.p["capacity_calendar_factor"], self.p["r0_calendar_factor"] = cap_factor, r0_factor
        self.soc_limit_is_error = soc_limit_is_error
        self.fitted_range = (params.provenance or {}).get("fitted_range")
        self.range_warnings: list[str] = []  # new warnings of the fitted range, for an FMU's log
        self._warned: set[str] = set()
        self.state = self._per_cell(cell.initial_state(NUMPY, self.structure, self.p))
        self.outputs: dict[str, np.ndarray] = {}

    @property
    def time_s(self) -> float:
        """Simulation time of the twin [s]."""
        return float(self.state["time_s"][0])

    def step(self, current_A: float | np.ndarray, dt_s: float, ambient_temperature_K: float | np.ndarray = 298.15,
             heat_flow_W: float | np.ndarray = 0.0) -> dict[str, np.ndarray]:
        """Advance every cell by ``dt_s`` with the given current (positive = discharge).

        Returns the outputs at the end of the step (arrays over cells). Raises
        :class:`InputError` on NaN/inf or out-of-range inputs and :class:`StateError` if a
        result is not finite; the twin's state is unchanged when it raises.
        """
        u = {"current_A": current_A, "ambient_temperature_K": ambient_temperature_K,
             "heat_flow_W": heat_flow_W, "dt_s": dt_s}
        for name, value in u.items():
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)):
                raise InputError(f"input {name} = {value!r} is not finite")
        if not dt_s > 0:
            raise InputError(f"input dt_s = {dt_s!r} must be > 0")
        if np.any(np.asarray(ambient_temperature_K) <= 0):
            raise InputError(f"input ambient_temperature_K = {ambient_temperature_K!r} must be > 0 K")
        u = self._per_cell(u)
        u["dt_s"] = float(dt_s)
        new_state, y = cell.step(NUMPY, self.structure, self.p, self.state, u)
        new_state, y = self._per_cell(new_state), self._per_cell(y)
        if not np.isfinite(np.concatenate([*new_state.values(), *y.values()])).all():
            bad = next(k for k, v in {**new_state, **y}.items() if not np.isfinite(v).all())
            raise StateError(f"{bad} became {y.get(bad, new_state.get(bad))} at t = {self.time_s + dt_s} s "
                             f"(inputs: {', '.join(f'{k}={np.ravel(v)[0]}' for k, v in u.items() if k != 'dt_s')})")
        lo, hi = self.params.soc_limits
        soc = y["soc"]
        if np.any(soc < lo) or np.any(soc > hi):
            msg = f"SOC {np.min(soc):.6g}..{np.max(soc):.6g} left [{lo}, {hi}] at t = {self.time_s + dt_s} s"
            if self.soc_limit_is_error:
                raise StateError(msg)
            log.warning(msg)
        if self.fitted_range and len(self._warned) < len(FITTED_RANGE_KINDS):
            self._check_fitted_range(u["current_A"], y["temperature_K"])
        self.state = new_state
        self.outputs = y
        return self.outputs

    def _check_fitted_range(self, current_A: np.ndarray, temperature_K: np.ndarray) -> None:
        """Warn (once per kind) when a reduced ECM runs outside the current or temperature range
        its tables were fitted on (the ``fitted_range`` of its provenance record)."""
        r = self.fitted_range
        margin = FITTED_TEMPERATURE_MARGIN_K
        checks = dict(zip(FITTED_RANGE_KINDS, (
            (float(np.max(current_A)), r["max_discharge_current_A"], "A", 1),
            (float(-np.min(current_A)), r["max_charge_current_A"], "A", 1),
            (float(np.max(temperature_K)), r["max_temperature_K"] + margin, "K", 1),
            (float(np.min(temperature_K)), r["min_temperature_K"] - margin, "K", -1))))
        for kind, (value, limit, unit, sign) in checks.items():
            if kind not in self._warned and sign * (value - limit) > 1e-9 * max(1.0, abs(limit)):
                self._warned.add(kind)
                msg = (f"{kind} {value:.6g} {unit} at t = {self.time_s:g} s is outside the range the ECM "
                       f"{self.params.name!r} was fitted on (limit {limit:.6g} {unit}): an extrapolation")
                self.range_warnings.append(msg)
                warnings.warn(msg, FittedRangeWarning, stacklevel=3)

    def _per_cell(self, values: dict[str, Any]) -> dict[str, np.ndarray]:
        """Every entry as a float array with one value per cell (constants are broadcast)."""
        shape = (self.n_cells,)
        return {k: v if isinstance(v, np.ndarray) and v.shape == shape and v.dtype == float
                else np.full(shape, v, dtype=float) for k, v in values.items()}

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the full state (restorable with :meth:`set_state`)."""
        return {k: v.copy() for k, v in self.state.items()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore a state from :meth:`get_state`."""
        missing = set(self.state) - set(state)
        if missing:
            raise KeyError(f"state lacks {sorted(missing)}")
        self.state = {k: np.array(state[k], dtype=float) for k in self.state}

    def run(self, time_s: np.ndarray, current_A: np.ndarray, ambient_temperature_K: float | np.ndarray = 298.15,
            heat_flow_W: float | np.ndarray = 0.0) -> dict[str, np.ndarray]:
        """Step through a profile: ``current_A[k]`` (one value, or one per cell) is held from
        ``time_s[k]`` to ``time_s[k+1]``; the ambient temperature and heat flow are held throughout.

        Returns the outputs at ``time_s[1:]`` plus ``time_s``: arrays over the profile, with a
        second axis over the cells when the twin has more than one
        (:func:`fmutwin.twins.profile.run_profile`). A failure part-way raises with the results
        so far in ``exc.partial``.
        """
        return run_profile(self.step, time_s, {"current_A": current_A},
                           {"ambient_temperature_K": ambient_temperature_K, "heat_flow_W": heat_flow_W})
