"""The cell equivalent-circuit step, composed from the part equations.

``step(ops, structure, p, state, inputs)`` advances every state over one step of length
``inputs["dt_s"]`` and returns the new state and the outputs at the end of the step. It is pure:
the same function is called on numpy arrays (one entry per cell) by the twin, and on CasADi
symbols to build Jacobians and generated C.

Discretisation (documented in docs/cell_ecm.md): over a step the current, the temperature seen by
the tables and every table value are held at their start-of-step values; RC branches,
hysteresis, a lumped thermal mass and the reaction extent are integrated exactly for those held
values; a distributed thermal model uses backward Euler. Outputs are evaluated at the end-of-step
state with the step's current; heat and power outputs are averages over the step, so that
summing them times dt gives the step energies exactly.

Sign convention: positive current discharges the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fmutwin.equations import aging, circuit, faults, hysteresis, thermal
from fmutwin.equations.tables import TableShape, lookup, lookup_many, mean_over_soc, slope_over_soc
from fmutwin.ops import Ops

INPUTS: tuple[str, ...] = ("current_A", "ambient_temperature_K", "heat_flow_W", "dt_s")


@dataclass(frozen=True)
class CellStructure:
    """The static shape of a cell model: which features exist and how tables are laid out.

    Python branches in the equations are taken on this structure only, never on states.
    """

    n_rc: int
    thermal_model: str  # "constant" | "lumped" | "distributed"
    n_nodes: int
    tables: dict[str, TableShape] = field(hash=False)
    hysteresis: bool
    self_discharge: bool
    cycling_aging: bool
    calendar_aging: bool
    internal_short: bool
    series_resistance: bool
    exothermic_reaction: bool
    current_interruption: bool
    charge_transfer: bool = False
    concentration: bool = False

    def state_names(self) -> list[str]:
        """Names of the state entries, in a fixed order."""
        names = ["time_s", "soc"] + [f"rc_voltage_{i + 1}_V" for i in range(self.n_rc)]
        names += ["hysteresis_state", "hysteresis_sign"] if self.hysteresis else []
        names += ["concentration_state"] if self.concentration else []
        names += [f"node_temperature_{k + 1}_K" for k in range(self.n_nodes)]
        names += ["num_cycles", "reaction_extent", "internal_short_active", "series_resistance_active",
                  "exotherm_active", "current_interrupted", "terminal_energy_J", "heat_generated_J"]
        return names


def initial_state(ops: Ops, s: CellStructure, p: dict[str, Any]) -> dict[str, Any]:
    """The state at the start, from the initial-condition parameters of ``p`` (``initial_soc``,
    ``initial_temperature_K``, ``initial_rc_voltage_<i>_V``, ``initial_hysteresis_state``,
    ``initial_cycles``): all thermal nodes at the initial temperature, no fault active, no energy
    counted yet. Per cell when the parameters are arrays over cells."""
    zero = 0.0 * p["initial_soc"]
    x = {name: zero for name in s.state_names()}
    x["soc"] = p["initial_soc"] + zero
    for i in range(s.n_rc):
        x[f"rc_voltage_{i + 1}_V"] = p[f"initial_rc_voltage_{i + 1}_V"] + zero
    if s.hysteresis:
        x["hysteresis_state"] = p["initial_hysteresis_state"] + zero
        x["hysteresis_sign"] = ops.sign(p["initial_hysteresis_state"]) + zero
    for k in range(s.n_nodes):
        x[f"node_temperature_{k + 1}_K"] = p["initial_temperature_K"] + zero
    if s.cycling_aging:
        x["num_cycles"] = p["initial_cycles"] + zero
    return x


def _table(ops: Ops, s: CellStructure, p: dict[str, Any], name: str, soc: Any, t_K: Any) -> Any:
    return lookup(ops, s.tables[name], p[name], soc, t_K, name)


def _charge_name(name: str) -> str:
    """``r0_ohm`` -> ``r0_charge_ohm``; ``rc1_time_constant_s`` -> ``rc1_time_constant_charge_s``."""
    stem, unit = name.rsplit("_", 1)
    return f"{stem}_charge_{unit}"


def aging_factors(ops: Ops, s: CellStructure, p: dict[str, Any], cycles: Any) -> tuple[Any, Any, Any]:
    """(capacity, resistance, OCV) multipliers from cycling at N equivalent full discharges."""
    if not s.cycling_aging:
        return 1.0, 1.0, 1.0
    n_ref = p["reference_cycles"]
    return (aging.cycling_sqrt_factor(ops, cycles, n_ref, p["capacity_change_percent"]),
            aging.cycling_sqrt_factor(ops, cycles, n_ref, p["resistance_change_percent"]),
            aging.cycling_linear_factor(cycles, n_ref, p["ocv_change_percent"]))


def calendar_factors(ops: Ops, s: CellStructure, p: dict[str, Any]) -> tuple[Any, Any]:
    """(capacity, R0) multipliers after the storage history of the parameter set.

    Called once when a twin is built; the results enter the step as the parameters
    ``capacity_calendar_factor`` and ``r0_calendar_factor``.
    """
    if not s.calendar_aging:
        return 1.0, 1.0
    soc = p["storage_soc"]
    t_ref = p["reference_temperature_K"]
    ocv = _table(ops, s, p, "ocv_V", soc, t_ref)
    ocv0 = _table(ops, s, p, "ocv_V", 0.0 * soc, t_ref)
    ocv1 = _table(ops, s, p, "ocv_V", 0.0 * soc + 1.0, t_ref)
    stress = ops.where(p["storage_variable_is_ocv"] > 0.5, (ocv - ocv0) / (ocv1 - ocv0), soc)

    def change(percent: Any) -> Any:
        return aging.calendar_change(ops, p["storage_time_s"], p["storage_temperature_K"], stress,
                                     p["reference_time_s"], t_ref, p["reference_stress"], percent,
                                     p["time_exponent"], p["activation_energy_J_per_mol"],
                                     p["stress_coefficient"])

    return 1.0 - change(p["capacity_loss_percent"]), 1.0 + change(p["resistance_increase_percent"])


def _terminal(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], current_A: Any,
              t_K: Any) -> dict[str, Any]:
    """Voltages of the circuit at one state for a given cell current."""
    _, r_factor, ocv_factor = aging_factors(ops, s, p, x["num_cycles"])
    names = ["ocv_V", "r0_ohm", "r0_charge_ohm", "hysteresis_max_voltage_V", "hysteresis_instantaneous_voltage_V",
             *NONLINEAR_TABLES]
    table = lookup_many(ops, s.tables, p, [n for n in names if n in s.tables], x["soc"], t_K)
    ocv = table["ocv_V"] * ocv_factor
    r0 = table["r0_ohm"]
    if "r0_charge_ohm" in table:
        r0 = ops.where(current_A < 0, table["r0_charge_ohm"], r0)
    r0 = r0 * r_factor * p["r0_calendar_factor"] * p["r0_scale"]
    if s.series_resistance:
        r0 = r0 + x["series_resistance_active"] * p["series_resistance_ohm"]
    v_hyst = 0.0 * ocv
    if s.hysteresis:
        v_hyst = hysteresis.hysteresis_voltage(x["hysteresis_state"], x["hysteresis_sign"],
                                               table["hysteresis_max_voltage_V"],
                                               table["hysteresis_instantaneous_voltage_V"])
    v_rc = 0.0 * ocv
    for i in range(s.n_rc):
        v_rc = v_rc + x[f"rc_voltage_{i + 1}_V"]
    eta, _ = nonlinear_overpotential(ops, s, p, table, r_factor, current_A, x.get("concentration_state"))
    return {"ocv": ocv, "r0": r0, "v_hyst": v_hyst, "r_factor": r_factor,
            "voltage": ocv + v_hyst - current_A * r0 - eta - v_rc}


#: the tables of the nonlinear overpotentials (charge transfer, electrolyte concentration)
NONLINEAR_TABLES = ("charge_transfer_voltage_V", "charge_transfer_current_A", "concentration_coefficient_V",
                    "concentration_time_constant_s")


def nonlinear_overpotential(ops: Ops, s: CellStructure, p: dict[str, Any], table: dict[str, Any], r_factor: Any,
                            current_A: Any, concentration: Any) -> tuple[Any, Any]:
    """(eta, d eta / d I at a fixed concentration state): the overpotentials beside R0 that make the ECM follow an electrochemical cell at high
    current [V] (positive while discharging; both zero where the cell has neither):

    * charge transfer, Butler-Volmer with symmetric transfer in asinh form:
      b(SOC, T) asinh(I / I_ct(T)); b grows with aging like R0 (``r_factor``, calendar factor),
      I_ct scales with ``charge_transfer_current_scale`` (n cells in parallel: n);
    * electrolyte concentration: k_e(T) e^3, e the concentration state (a first-order lag of
      the C-rate with time constant tau_e(T)): linear in e it would be one more RC branch; the
      cubic term is the steep rise of a sustained high-rate discharge (electrolyte depletion).
    """
    eta = slope = 0.0 * current_A
    if s.charge_transfer:
        b = table["charge_transfer_voltage_V"] * r_factor * p["r0_calendar_factor"]
        i_ct = table["charge_transfer_current_A"] * p["charge_transfer_current_scale"]
        eta = eta + b * ops.asinh(current_A / i_ct)
        slope = slope + b / ops.sqrt(i_ct * i_ct + current_A * current_A)
    if s.concentration:
        eta = eta + table["concentration_coefficient_V"] * concentration * concentration * concentration
    return eta, slope


def terminal_voltage(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], current_A: Any,
                     t_K: Any) -> Any:
    """The terminal voltage at state ``x`` and temperature ``t_K`` for a cell current (positive =
    discharge): OCV and hysteresis minus the R0 drop and the RC voltages (what a BMS measures)."""
    return _terminal(ops, s, p, x, current_A, t_K)["voltage"]


def _node_temperatures(s: CellStructure, x: dict[str, Any]) -> list[Any]:
    return [x[f"node_temperature_{k + 1}_K"] for k in range(s.n_nodes)]


def start_of_step(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], dt: Any) -> dict[str, Any]:
    """What a step holds from its start whatever the current: fault latches (on the start time and
    temperature), whether the cell is open, the aged capacity, the cell temperature."""
    time = x["time_s"]
    nodes = _node_temperatures(s, x)
    t_cell = thermal.mean(nodes)
    xn: dict[str, Any] = {"time_s": time + dt}
    for fault in ("internal_short", "series_resistance", "exotherm"):
        key = f"{fault}_active"
        enabled = getattr(s, "exothermic_reaction" if fault == "exotherm" else fault)
        xn[key] = (faults.latch(ops, x[key], p[f"{fault}_trigger_kind"], time, t_cell,
                                p[f"{fault}_trigger_time_s"], p[f"{fault}_trigger_temperature_K"])
                   if enabled else x[key])
    x_eff = {**x, **{k: xn[k] for k in ("internal_short_active", "series_resistance_active", "exotherm_active")}}
    interrupted = x["current_interrupted"]
    if s.current_interruption:
        interrupted = ops.where(t_cell >= p["interruption_temperature_K"], 1.0, interrupted)
    xn["current_interrupted"] = interrupted
    is_open = interrupted
    if s.series_resistance:
        is_open = ops.fmax(is_open, x_eff["series_resistance_active"] * p["series_open_circuit"])
    if s.exothermic_reaction:
        is_open = ops.fmax(is_open, ops.where(x["reaction_extent"] >= p["burnt_extent"], 1.0, 0.0))
    q_factor, _, ocv_factor = aging_factors(ops, s, p, x["num_cycles"])
    capacity = p["nominal_capacity_As"] * p["capacity_calendar_factor"] * q_factor
    return {"xn": xn, "x_eff": x_eff, "is_open": is_open, "nodes": nodes, "t_cell": t_cell, "capacity": capacity,
            "ocv_factor": ocv_factor, "dt": dt}


def actual_current(ops: Ops, start: dict[str, Any], requested_A: Any) -> Any:
    """The cell current: the requested one, or 0 while the cell is open."""
    return ops.where(start["is_open"] > 0.5, 0.0 * requested_A, requested_A)


def held_tables(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], start: dict[str, Any],
                with_slope: bool = False) -> dict[str, Any]:
    """Every table value the circuit holds over a step, at the start state, for both directions
    of the current (``(discharge, charge)`` pairs; charge None without a charge table),
    with the aging, calendar and per-cell scale factors applied; ``ocv_slope`` (dOCV/dSOC) with
    ``with_slope``. A parallel group's split evaluates the circuit for several trial currents on
    one set of these."""
    soc, t_cell = x["soc"], start["t_cell"]
    _, r_factor, ocv_factor = aging_factors(ops, s, p, x["num_cycles"])
    names = ["ocv_V", "entropic_coefficient_V_per_K", "r0_ohm", "hysteresis_max_voltage_V",
             "hysteresis_instantaneous_voltage_V", "self_discharge_resistance_ohm"]
    names += [f"rc{i}_{kind}" for i in range(1, s.n_rc + 1) for kind in ("resistance_ohm", "time_constant_s")]
    names += list(NONLINEAR_TABLES)
    table = lookup_many(ops, s.tables, p, [n for m in names for n in (m, _charge_name(m)) if n in s.tables],
                        soc, t_cell)

    def both(name: str, scale: Any = 1.0, added: Any = 0.0) -> tuple[Any, Any]:
        values = [table[key] * scale + added if key in table else None for key in (name, _charge_name(name))]
        return values[0], values[1]

    added = start["x_eff"]["series_resistance_active"] * p["series_resistance_ohm"] if s.series_resistance else 0.0
    r0 = both("r0_ohm", r_factor * p["r0_calendar_factor"] * p["r0_scale"], added)
    held: dict[str, Any] = {"ocv": table["ocv_V"] * ocv_factor, "r0": r0,
                            "entropic": table["entropic_coefficient_V_per_K"]}
    for i in range(1, s.n_rc + 1):
        held[f"rc{i}_r"] = both(f"rc{i}_resistance_ohm", r_factor * p["rc_resistance_scale"])
        held[f"rc{i}_tau"] = both(f"rc{i}_time_constant_s")
        for k, decay in enumerate(zip(*[circuit.rc_decays(ops, tau, start["dt"]) if tau is not None else (None, None)
                                        for tau in held[f"rc{i}_tau"]])):
            held[f"rc{i}_decay{k + 1}"] = decay  # (discharge, charge) of 1 - exp(-(k + 1) dt / tau)
    if s.hysteresis:
        held["hysteresis_max"] = table["hysteresis_max_voltage_V"]
        held["hysteresis_instantaneous"] = table["hysteresis_instantaneous_voltage_V"]
    if s.self_discharge:
        held["self_discharge_r"] = table["self_discharge_resistance_ohm"]
    held["nonlinear"] = {k: table[k] for k in NONLINEAR_TABLES if k in table}
    held["r_factor"] = r_factor
    if s.concentration:
        held["concentration_decays"] = circuit.rc_decays(ops, table["concentration_time_constant_s"], start["dt"])
    if with_slope:
        held["ocv_slope"] = slope_over_soc(ops, s.tables["ocv_V"], p["ocv_V"], soc, t_cell, "ocv_V")
    return held


def circuit_over_step(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], start: dict[str, Any],
                      current: Any, held: dict[str, Any] | None = None) -> dict[str, Any]:
    """The circuit over a step with a given (actual) cell current: RC branches, hysteresis,
    internal currents, SOC and the OCV source's mean voltage, with every table held at the start
    (``held``: :func:`held_tables`, computed here if not given).

    Returns the new circuit states, the electrical energies of the step and ``mean_voltage``, the
    terminal voltage averaged over the step (its integral times the current is the terminal
    energy), and, when ``held`` has the OCV slope, ``mean_voltage_slope``, its derivative in the
    current where the tables are smooth (the OCV segment at the start SOC): what a parallel
    group's current split solves on.
    """
    held = held if held is not None else held_tables(ops, s, p, x, start)
    dt, capacity = start["dt"], start["capacity"]
    x_eff = dict(start["x_eff"])
    xn: dict[str, Any] = {}
    charging = current < 0

    def pick(pair: tuple[Any, Any]) -> Any:
        return pair[0] if pair[1] is None else ops.where(charging, pair[1], pair[0])

    ocv0 = held["ocv"]
    r0 = pick(held["r0"])
    v_hyst = 0.0 * ocv0
    if s.hysteresis:  # over the step the instantaneous hysteresis follows this step's current
        x_eff["hysteresis_sign"] = ops.where(current != 0, -ops.sign(current), x["hysteresis_sign"])
        v_hyst = hysteresis.hysteresis_voltage(x_eff["hysteresis_state"], x_eff["hysteresis_sign"],
                                               held["hysteresis_max"], held["hysteresis_instantaneous"])
    e_loss = current * current * r0 * dt  # ohmic
    rc_integral = 0.0 * ocv0  # sum of the integrals of the RC voltages over the step
    slope = -r0  # d mean_voltage / d current, term by term
    for i in range(s.n_rc):
        r, tau = pick(held[f"rc{i + 1}_r"]), pick(held[f"rc{i + 1}_tau"])
        decays = pick(held[f"rc{i + 1}_decay1"]), pick(held[f"rc{i + 1}_decay2"])
        v = x[f"rc_voltage_{i + 1}_V"]
        xn[f"rc_voltage_{i + 1}_V"] = circuit.rc_step(ops, v, current, r, tau, dt, decays)
        e_loss = e_loss + circuit.rc_loss_energy(ops, v, current, r, tau, dt, decays)
        rc_integral = rc_integral + circuit.rc_voltage_integral(ops, v, current, r, tau, dt, decays)
        slope = slope - r * (1.0 - tau * decays[0] / dt)
    e_loss = e_loss - current * v_hyst * dt  # hysteresis opposes the current: dissipated
    # -- nonlinear overpotentials: the concentration state over the step, both held at its end --
    concentration = None
    if s.concentration:
        c_rate = current * 3600.0 / capacity
        decays = held["concentration_decays"]
        concentration = circuit.rc_step(ops, x["concentration_state"], c_rate, 1.0,
                                        held["nonlinear"]["concentration_time_constant_s"], dt, decays)
        xn["concentration_state"] = concentration
        slope = slope - 3.0 * held["nonlinear"]["concentration_coefficient_V"] * concentration * concentration \
            * decays[0] * 3600.0 / capacity
    eta, eta_slope = nonlinear_overpotential(ops, s, p, held["nonlinear"], held["r_factor"], current, concentration)
    slope = slope - eta_slope
    e_loss = e_loss + current * eta * dt  # concentration: may be negative, the gradient's stored energy returned
    if s.hysteresis:
        xn["hysteresis_state"], xn["hysteresis_sign"] = hysteresis.hysteresis_step(
            ops, x["hysteresis_state"], x["hysteresis_sign"], current, p["hysteresis_rate"], capacity, dt)

    # -- internal currents: self-discharge and short, across the OCV source -------------------
    internal = 0.0 * ocv0
    if s.self_discharge:
        internal = internal + ocv0 / held["self_discharge_r"]
    if s.internal_short:
        internal = internal + x_eff["internal_short_active"] * p["internal_short_scale"] * ocv0 / \
            p["internal_short_resistance_ohm"]

    # -- charge, and the energy the OCV source gives up (exact for SOC linear in time) ---------
    xn["soc"] = x["soc"] - (current + internal) * dt / capacity
    ocv_factor = start["ocv_factor"]
    ocv_mean = mean_over_soc(ops, s.tables["ocv_V"], p["ocv_V"], x["soc"], xn["soc"], start["t_cell"],
                             "ocv_V") * ocv_factor
    e_loss = e_loss + ocv_mean * internal * dt
    xn["num_cycles"] = x["num_cycles"] + ops.fmax(current, 0.0) * dt / p["nominal_capacity_As"]

    # -- terminal energy: OCV energy minus what R0, the RC branches and hysteresis take -------
    mean_voltage = ocv_mean + v_hyst - current * r0 - eta - rc_integral / dt
    out = {"xn": xn, "x_eff": x_eff, "ocv0": ocv0, "e_loss": e_loss, "e_terminal": current * dt * mean_voltage,
           "mean_voltage": mean_voltage, "entropic": held["entropic"]}
    if "ocv_slope" in held:
        out["mean_voltage_slope"] = slope - 0.5 * dt / capacity * ocv_factor * held["ocv_slope"]
    return out


def heat_over_step(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], start: dict[str, Any],
                   current: Any, c: dict[str, Any]) -> dict[str, Any]:
    """The step's heat (electrical losses, entropic heat, exothermic reaction) and the cell's heat
    capacity (which venting reduces); the reaction extent after the step."""
    dt, t_cell = start["dt"], start["t_cell"]
    x_eff = c["x_eff"]
    e_rev = -current * t_cell * c["entropic"] * dt
    heat_capacity = p["mass_J_per_K"]
    e_reaction = 0.0 * c["ocv0"]
    extent = x["reaction_extent"]
    if s.exothermic_reaction:
        heat_capacity = heat_capacity * (1.0 - p["vented_mass_fraction"] * x["reaction_extent"])
        k = faults.reaction_rate_constant(ops, t_cell, p["onset_temperature_K"], p["reaction_activation_energy_J_per_mol"],
                                          p["reaction_heat_J"], p["mass_J_per_K"])
        xi_new = faults.reaction_step(ops, x["reaction_extent"], k, p["reaction_order"], dt)
        extent = ops.where(x_eff["exotherm_active"] > 0.5, xi_new, x["reaction_extent"])
        e_reaction = p["reaction_heat_J"] * (extent - x["reaction_extent"])
    return {"e_rev": e_rev, "e_reaction": e_reaction, "heat_W": (c["e_loss"] + e_rev + e_reaction) / dt,
            "heat_capacity": heat_capacity, "reaction_extent": extent}


def end_of_step(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any], start: dict[str, Any],
                current: Any, c: dict[str, Any], heat: dict[str, Any],
                new_nodes: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The new state and the outputs at the end of the step, given the new node temperatures
    (from the cell's own thermal model, or a module's thermal network)."""
    dt = start["dt"]
    xn = {**start["xn"], **c["xn"], "reaction_extent": heat["reaction_extent"]}
    xn["terminal_energy_J"] = x["terminal_energy_J"] + c["e_terminal"]
    xn["heat_generated_J"] = x["heat_generated_J"] + c["e_loss"] + heat["e_rev"] + heat["e_reaction"]
    for k, t_new in enumerate(new_nodes):
        xn[f"node_temperature_{k + 1}_K"] = t_new
    t_end = thermal.mean(new_nodes)
    q_end, _, _ = aging_factors(ops, s, p, xn["num_cycles"])
    capacity_end = p["nominal_capacity_As"] * p["capacity_calendar_factor"] * q_end
    c1 = _terminal(ops, s, p, {**c["x_eff"], **xn}, current, t_end)
    y = {
        "current_A": current,
        "voltage_V": c1["voltage"],
        "ocv_V": c1["ocv"],
        "soc": xn["soc"],
        "charge_As": xn["soc"] * capacity_end,
        "capacity_As": capacity_end,
        "temperature_K": t_end,
        "heat_generation_W": heat["heat_W"],
        "power_dissipated_W": c["e_loss"] / dt,
        "reversible_heat_W": heat["e_rev"] / dt,
        "reaction_heat_W": heat["e_reaction"] / dt,
        "reaction_extent": xn["reaction_extent"],
        "hysteresis_state": xn["hysteresis_state"] if s.hysteresis else 0.0 * c["ocv0"],
        "num_cycles": xn["num_cycles"],
        "is_current_interrupted": xn["current_interrupted"],
        "is_exotherm_faulted": xn["exotherm_active"],
        "terminal_energy_J": xn["terminal_energy_J"],
        "heat_generated_J": xn["heat_generated_J"],
        "r0_ohm": c1["r0"],  # the series resistance at the end state, in the step's current direction
    }
    for i in range(s.n_rc):
        y[f"rc_voltage_{i + 1}_V"] = xn[f"rc_voltage_{i + 1}_V"]
    for k in range(s.n_nodes):
        y[f"node_temperature_{k + 1}_K"] = new_nodes[k]
    return xn, y


def step(ops: Ops, s: CellStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Advance the cell by ``u["dt_s"]``; return (new state, outputs at the end of the step).

    Inputs: ``current_A`` requested cell current (positive = discharge), ``ambient_temperature_K``,
    ``heat_flow_W`` external heat into the cell, ``dt_s`` step length.
    """
    dt = u["dt_s"]
    start = start_of_step(ops, s, p, x, dt)
    current = actual_current(ops, start, u["current_A"])
    c = circuit_over_step(ops, s, p, x, start, current)
    heat = heat_over_step(ops, s, p, x, start, current, c)
    total_heat = heat["heat_W"] + u["heat_flow_W"]
    ambient, nodes = u["ambient_temperature_K"], start["nodes"]
    if s.thermal_model == "constant":
        new_nodes = [ambient + 0.0 * start["t_cell"]]
    elif s.thermal_model == "lumped":
        new_nodes = [thermal.lumped_step(ops, nodes[0], total_heat, ambient, heat["heat_capacity"],
                                         p["heat_transfer_W_per_K"], dt)]
    else:
        new_nodes = thermal.distributed_step(ops, nodes, total_heat, ambient, heat["heat_capacity"],
                                             p["heat_transfer_W_per_K"], p["node_conductance_W_per_K"], dt)
    return end_of_step(ops, s, p, x, start, current, c, heat, new_nodes)
