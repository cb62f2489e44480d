"""A module of electrochemical cells over ``ops``: the current split at the end of each step, the
interconnect losses and the thermal network of :mod:`fmutwin.equations.module`, with the cells
given as a step of all cells (``ModuleEchemStructure.cells``), so that one text runs with numpy
(a batch of PyBaMM cells compiled and mapped over threads) and as generated C (the PyBaMM cell's
generated step called once per cell).

The split, every step and with no lag: the cell currents are held over the step and are those for
which the cells' terminal voltages at the end of the step satisfy Kirchhoff's laws with the
interconnects and sum to the element current (module current plus bleed). A cell's end voltage
is not affine in its current here, so Newton's method solves it with the exact derivative dV/dI
of the cell step, from the previous step's currents with the change of the element current
shared by the cells' conductances of that step. Every iteration is one step of all cells; the
iteration stops once every residual is below ``EXIT_V`` (at most ``MAX_EVALUATIONS`` cell steps;
the output ``split_evaluations`` counts them, ``split_residual_V`` is what is left).

Thermal: each cell is isothermal over a step at its network temperature from the step's start;
its heat (the model's total heating at the end of the step, times its capacity scale) plus its
interconnect and bleed shares drives the network (exact per-node backward Euler) to the end of
the step. A cell ``capacity_scale`` times the nominal cell is the nominal cell at I / scale.
Positive current discharges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from fmutwin.equations.module import ModuleStructure, Split, interconnect_losses, summaries, thermal_network
from fmutwin.ops import Ops

#: the split stops once every residual is below this [V] (and the current balance below 1e-12
#: of max(1 A, |I|))
EXIT_V = 1e-10
#: a step whose split is still above this after MAX_EVALUATIONS cell steps failed [V]
TOLERANCE_V = 1e-9
MAX_EVALUATIONS = 8
#: the per-cell results a cell step gives (besides the new states ``x``)
CELL_RESULTS = ("voltage_V", "dv_di_ohm", "heat_W", "discharged_Ah", "negative_surface_stoichiometry",
                "positive_surface_stoichiometry")


@dataclass(frozen=True)
class ModuleEchemStructure:
    """The module's shape and its cells. ``cells(ops, x, current_A, temperature_K, dt)`` steps
    every cell (cell arrays; ``x`` the cells' states in whatever form the cells keep them) and
    returns the new ``x`` and :data:`CELL_RESULTS`; ``initial(ops, soc)`` the states at the
    cells' SOCs."""

    module: ModuleStructure
    cells: Callable[..., dict[str, Any]]
    initial: Callable[..., Any]
    window_capacity_Ah: float
    heat_capacity_J_per_K: float
    heat_transfer_W_per_K: float


def initial_state(ops: Ops, s: ModuleEchemStructure, p: dict[str, Any]) -> dict[str, Any]:
    """Every cell at its own initial SOC and temperature, an equal split as the first guess."""
    n, ns = s.module.n_cells, s.module.n_series
    zero = 0.0 * p["tab_resistance_ohm"]
    return {"cells": s.initial(ops, ops.as_cells(p["initial_soc"])),
            "temperature_K": ops.as_cells(p["initial_temperature_K"]) + zero,
            "cell_current_A": ops.cell_array([zero] * n),
            "shares": ops.cell_array([zero + 1.0 / s.module.n_parallel] * n),
            "element_voltage_V": ops.cell_array([zero] * ns), "time_s": zero}


def step(ops: Ops, s: ModuleEchemStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Advance by ``u["dt_s"]`` with the module current ``current_A`` (positive = discharge), the
    cold-plate and ambient temperatures and ``bleed`` (one 0/1 per series element): the new
    state and the outputs at the end of the step, among them the cells' surface stoichiometries
    (``min_surface_stoichiometry``, ``max_surface_stoichiometry``) and ``split_residual_V``: what
    the caller checks (the twin raises, the FMUs refuse the step)."""
    m = s.module
    ns, npar = m.n_series, m.n_parallel
    dt, current, k = u["dt_s"], u["current_A"], ops.as_cells(p["capacity_scale"])
    bleed = ops.where(u["bleed"] > 0.5, 1.0, 0.0) / p["bleed_resistance_ohm"]
    r_tab, r_pb = p["tab_resistance_ohm"], p["parallel_busbar_resistance_ohm"]
    none_open = [0.0 * bleed for _ in range(npar)]  # SPM/SPMe cells have no open-circuit fault
    split = Split(ops, npar, none_open, 0.0 * bleed, current, bleed, r_tab, r_pb)
    element = current + bleed * x["element_voltage_V"]
    last_currents = ops.group_members(x["cell_current_A"], ns, npar)
    shares = ops.group_members(x["shares"], ns, npar)
    change = element - sum(last_currents)
    guess = [last_currents[j] + shares[j] * change for j in range(npar)]
    scale = ops.fmax(1.0, ops.fabs(current)) * (1e-12 / EXIT_V)  # the current balance, as a voltage residual

    def evaluate(currents: list[Any], volts: Any, count: Any) -> dict[str, Any]:
        r = s.cells(ops, x["cells"], ops.from_members(currents, ns) / k, x["temperature_K"], dt)
        v_cell = ops.group_members(r["voltage_V"], ns, npar)
        volts = split.implied_voltage(currents, v_cell) if volts is None else volts
        residual, last = split.residuals(currents, volts, v_cell)
        return {"currents": currents, "volts": volts, "r": r, "residual": residual, "last": last,
                "slope": ops.group_members(r["dv_di_ohm"] / k, ns, npar), "count": count}

    def iterate(t: dict[str, Any], _: Any) -> dict[str, Any]:
        return evaluate(*split.newton(t["currents"], t["volts"], t["slope"], t["residual"], t["last"]),
                        t["count"] + 1.0)

    trial = evaluate(guess, None, 1.0 + 0.0 * current)
    for _ in range(MAX_EVALUATIONS - 1):  # generated code skips the evaluations left once converged
        done = ops.converged([*trial["residual"], trial["last"] / scale], EXIT_V)
        if done is True:
            break
        trial = ops.unless(done, trial, iterate, {})
    currents, volts, r = trial["currents"], trial["volts"], trial["r"]
    worst = ops.largest(ops.cell_array([ops.largest(ops.fabs(res)) for res in trial["residual"]]))

    losses = interconnect_losses(ops, m, p, currents, current, volts, bleed)
    heat = r["heat_W"] * k + losses["cell_share_W"]
    network = thermal_network(ops, m, p, x["temperature_K"], heat, s.heat_capacity_J_per_K * k,
                              s.heat_transfer_W_per_K, dt)
    t_new = ops.solve_spd_banded(network["diagonal"], network["bands"], network["rhs"]
                                 + network["g_plate"] * u["cold_plate_temperature_K"]
                                 + network["h_a"] * u["ambient_temperature_K"])
    soc = ops.as_cells(p["initial_soc"]) - r["discharged_Ah"] / s.window_capacity_Ah
    cell_current = ops.from_members(currents, ns)
    v_cell = r["voltage_V"]
    y: dict[str, Any] = {
        "module_voltage_V": ops.total(volts) - (ns - 1) * p["series_busbar_resistance_ohm"] * current,
        "module_current_A": current, "cell_voltage_V": v_cell, "cell_current_A": cell_current, "cell_soc": soc,
        "cell_temperature_K": t_new, "cell_heat_W": heat, "element_voltage_V": volts,
        **summaries(ops, v_cell, soc, t_new, t_new, network, u, losses["interconnect_W"], losses["bleed_W"]),
        "split_residual_V": worst, "split_evaluations": trial["count"],
        "cell_negative_surface_stoichiometry": r["negative_surface_stoichiometry"],
        "cell_positive_surface_stoichiometry": r["positive_surface_stoichiometry"],
        "min_surface_stoichiometry": ops.smallest(ops.fmin(r["negative_surface_stoichiometry"],
                                                           r["positive_surface_stoichiometry"])),
        "max_surface_stoichiometry": ops.largest(ops.fmax(r["negative_surface_stoichiometry"],
                                                          r["positive_surface_stoichiometry"])),
    }
    conductances = ops.group_members(1.0 / (r_tab - r["dv_di_ohm"] / k), ns, npar)  # the next step's shares
    total = sum(conductances)
    x_new = {"cells": r["x"], "temperature_K": t_new, "cell_current_A": cell_current,
             "shares": ops.from_members([g / total for g in conductances], ns), "element_voltage_V": volts,
             "time_s": x["time_s"] + dt}
    return x_new, y
