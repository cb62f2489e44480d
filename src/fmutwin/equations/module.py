"""The module step: Ns series elements of Np parallel cells of the cell equations, with
interconnects, an exact current split, balancing bleed resistors and a thermal network.

Cell arrays (one value per cell; cell c in element ``c // Np`` at position ``c % Np``) are numpy
arrays or CasADi column vectors; the cell equations run on them through ``ops.map_cells``
(vectorised in numpy, once per cell on CasADi symbols), so this text is the numpy module twin,
its Python FMU and its generated C alike.

Split. Within a step each cell's current is constant and its terminal voltage averaged over the
step is a smooth function of that current (``cell.circuit_over_step``: exact RC integrals, the OCV
mean over the step's SOC interval), so a parallel element solves, every step and with no lag,

    Vbar_j(I_j) - r_tab I_j - sum_m D_jm I_m = V_e   (each closed cell j; D_jm = r_pb min(j, m),
                                                       the busbar drops towards the tap at position 0)
    sum_j I_j = I + b_e V_e / R_bleed                (the element current: module current plus bleed)

by Newton's method on (I_1..I_Np, V_e) with the derivative of Vbar (exact where the tables are
smooth); an open cell carries no current. From the equal split, at most ``SPLIT_ITERATIONS`` (3)
iterations, each only while some residual is above ``SPLIT_EXIT_V`` (1e-11 V), in numpy and in
generated code alike (``ops.unless``): mostly one on a drive cycle; 3 reach 1.4e-14 V at three
times WLTC's current on the 12s4p example (2 leave 1.2e-10 V). The residual is an output.
Step-averaged voltages make the energy balance of the circuit exact: cell energy = terminal
energy + tab, busbar and bleed losses.

Instantaneous hysteresis (M0 S, S = -sign of the last non-zero current) makes a cell's voltage
jump by 2 M0 where its current changes sign, so the split has no solution in the single-valued
sense when a parallel cell should carry nothing: its node sits inside its band Vfree +- M0. The
split treats S as set-valued at zero current (S in [-1, 1] there, as friction holds within its
limit) and solves that by semismooth Newton (:meth:`Split.sticking`: stuck cells carry exactly
zero at their node's voltage, S at the step's end the value that puts them there); ``SPLIT_ITERATIONS`` + 2 Np
iterations allowed (5 on US06 with rests for a varied 3s4p). A lone cell keeps the cell twin's rule.

Thermal network. Every cell is a lumped mass (its heat capacity, convection hA to the ambient)
conducting to its layout neighbours and to a cold plate. The step is backward Euler with each
node's own effective step dt_i = dt (e^z_i - 1) / z_i, z_i = g_i dt / C_i (g_i: the node's total
conductance), i.e. the matrix (C_i / dt_i + g_i) on the diagonal, -G on the neighbours: exact for
an uncoupled node (a single cell equals the cell twin's exact lumped step), unconditionally stable
for any mass, conductance and step, and first order in the coupling. Heat: the cell equations'
heat plus its share of the interconnect losses (tab; half of each adjacent busbar segment; the
series busbar shared by the cells of the two elements it joins) and of its element's bleed heat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from fmutwin.equations import cell
from fmutwin.equations.cell import CellStructure
from fmutwin.ops import Ops

INPUTS: tuple[str, ...] = ("current_A", "cold_plate_temperature_K", "ambient_temperature_K", "dt_s")
#: cell quantities that vary from cell to cell (cell arrays in p)
VARYING = ("capacity_scale", "r0_scale", "rc_resistance_scale", "initial_soc", "initial_temperature_K",
           "initial_cycles", "internal_short_scale")
SPLIT_ITERATIONS = 3
#: the split stops iterating once every residual is below this [V] (numpy and generated code alike)
SPLIT_EXIT_V = 1e-11


@dataclass(frozen=True)
class ModuleStructure:
    """The static shape of a module: its cell structure, Ns x Np, and the thermal network's bands
    (offset k: cell i conducts to cell i + k where ``bands[k][i]`` is 1), with what follows from
    them (:func:`module_structure` builds one)."""

    cell: CellStructure | None  # None: cells that are not the ECM (an electrochemical module)
    n_series: int
    n_parallel: int
    bands: dict[int, tuple[int, ...]] = field(hash=False)
    touches: tuple[int, ...] = field(hash=False)  # how many neighbours each cell conducts to
    series_shares: tuple[float, ...] = field(hash=False)  # each cell's share of the series busbar losses

    @property
    def n_cells(self) -> int:
        return self.n_series * self.n_parallel

    def cell_state_names(self) -> list[str]:
        """The cell states a module holds per cell (time is the module's own)."""
        return [n for n in self.cell.state_names() if n != "time_s"]

    def state_names(self) -> list[str]:
        """Flat state names: time, then each cell state as ``name[c]`` over the cells."""
        return ["time_s"] + [f"{n}[{c}]" for n in self.cell_state_names() for c in range(self.n_cells)]

    def input_names(self) -> tuple[str, ...]:
        return INPUTS[:-1] + tuple(f"bleed[{e}]" for e in range(self.n_series)) + INPUTS[-1:]


def module_structure(cell_structure: CellStructure | None, n_series: int, n_parallel: int, layout: str,
                     columns: int | None, block: int | None = None) -> ModuleStructure:
    """A module's structure: the cells touch in a row (each cell and the next) or a grid of rows of
    ``columns``, within blocks of ``block`` cells (a pack's modules, which do not touch; default:
    one block); a series busbar between two elements is shared by the 2 Np cells of both."""
    n = n_series * n_parallel
    block = block or n
    bands: dict[int, tuple[int, ...]] = {}

    def same_block(i: int, k: int) -> int:
        return int(i // block == (i + k) // block)

    if n > 1 and (layout == "row" or not columns):
        bands[1] = tuple(same_block(i, 1) for i in range(n - 1))
    elif n > 1:
        bands[1] = tuple(int((i % block + 1) % columns != 0) * same_block(i, 1) for i in range(n - 1))
        if min(n, block) > columns:
            bands[columns] = tuple(same_block(i, columns) for i in range(n - columns))
    touches = [0] * n
    for k, touching in bands.items():
        for i, t in enumerate(touching):
            touches[i] += t
            touches[i + k] += t
    shares = tuple(((e > 0) + (e < n_series - 1)) / (2.0 * n_parallel) for e in range(n_series)
                   for _ in range(n_parallel))
    return ModuleStructure(cell_structure, n_series, n_parallel, bands, tuple(touches), shares)


def _cell_parameters(p: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """One cell's (or, in numpy, every cell's) equation parameters: the shared cell set with the
    cell's variation applied."""
    shared = p["cell"]
    return {**shared, "nominal_capacity_As": shared["nominal_capacity_As"] * c["capacity_scale"],
            "r0_scale": c["r0_scale"], "rc_resistance_scale": c["rc_resistance_scale"],
            "initial_soc": c["initial_soc"], "initial_temperature_K": c["initial_temperature_K"],
            "initial_cycles": c["initial_cycles"], "internal_short_scale": c["internal_short_scale"]}


def initial_state(ops: Ops, s: ModuleStructure, p: dict[str, Any]) -> dict[str, Any]:
    """Every cell at its own initial SOC, temperature and cycle count (its variation)."""
    x0 = ops.map_cells(lambda c: cell.initial_state(ops, s.cell, _cell_parameters(p, c)), s.n_cells,
                       {k: ops.as_cells(p[k]) for k in VARYING})
    out = {n: x0[n] for n in s.cell_state_names()}
    out["time_s"] = 0.0 * p["tab_resistance_ohm"]
    return out


def step(ops: Ops, s: ModuleStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Advance the module by ``u["dt_s"]``; return (new state, outputs at the end of the step).

    Inputs: ``current_A`` module current (positive = discharge), ``cold_plate_temperature_K``,
    ``ambient_temperature_K``, ``bleed`` (an array over the elements: 1 = the element's bleed
    resistor is switched on), ``dt_s``.
    """
    w = electrical_step(ops, s, p, x, u)
    t_new = ops.solve_spd_banded(w["diagonal"], w["bands"], w["rhs"] + w["g_plate"] * u["cold_plate_temperature_K"]
                                 + w["h_a"] * u["ambient_temperature_K"])
    return finish_step(ops, s, p, x, u, w, t_new)


def electrical_step(ops: Ops, s: ModuleStructure, p: dict[str, Any], x: dict[str, Any],
                    u: dict[str, Any]) -> dict[str, Any]:
    """The step up to the thermal network: the split, the cells' circuits and heat, and the
    network's matrix (``diagonal``, ``bands``) and right-hand side without the cold-plate and
    ambient terms (``rhs``; add ``g_plate`` x plate and ``h_a`` x ambient temperature, which a pack
    solves together with its plates). Inputs as :func:`step` (the temperatures are not read)."""
    ns, npar, n = s.n_series, s.n_parallel, s.n_cells
    dt = u["dt_s"]
    r_tab, r_pb = p["tab_resistance_ohm"], p["parallel_busbar_resistance_ohm"]
    cells = {"x": {k: x[k] for k in s.cell_state_names()}, "v": {k: ops.as_cells(p[k]) for k in VARYING}}

    def cell_x(c: dict[str, Any]) -> dict[str, Any]:
        return {**c["x"], "time_s": x["time_s"]}

    starts = ops.map_cells(lambda c: cell.start_of_step(ops, s.cell, _cell_parameters(p, c["v"]), cell_x(c), dt),
                           n, cells)
    cells["start"] = starts
    open_cell = ops.where(starts["is_open"] > 0.5, 1.0, 0.0)
    group_open = ops.group_sums(open_cell, ns, npar)  # npar: every cell of the element is open
    module_open = ops.largest(ops.where(group_open > npar - 0.5, 1.0, 0.0))
    current = ops.where(module_open > 0.5, 0.0 * u["current_A"], u["current_A"])
    bleed = ops.where(u["bleed"] > 0.5, 1.0, 0.0) / p["bleed_resistance_ohm"]  # conductance per element

    cells["held"] = ops.map_cells(lambda c: cell.held_tables(ops, s.cell, _cell_parameters(p, c["v"]), cell_x(c),
                                                             c["start"], with_slope=True), n, cells)

    def circuit(c: dict[str, Any]) -> dict[str, Any]:
        return cell.circuit_over_step(ops, s.cell, _cell_parameters(p, c["v"]), cell_x(c), c["start"], c["i"],
                                      c["held"])

    # -- the split: Newton on (I_j, V_e) for all elements at once ------------------------------
    members = ops.group_members(open_cell, ns, npar)
    all_open = ops.where(group_open > npar - 0.5, 1.0, 0.0)  # an element with no closed cell: V_e = mean Vbar
    context = {"cells": dict(cells), "members": members, "all_open": all_open, "current": current, "bleed": bleed}
    if s.cell.hysteresis:  # the instantaneous hysteresis: each cell's M0 and its S before the step
        context["m0"] = ops.group_members(cells["held"]["hysteresis_instantaneous"] + 0.0 * starts["t_cell"], ns,
                                          npar)
        context["sign"] = ops.group_members(x["hysteresis_sign"], ns, npar)

    def evaluate(ctx: dict[str, Any], currents: list[Any], volts: Any) -> dict[str, Any]:
        """The circuits at trial currents and the split's residuals there (``volts`` None: the
        element voltage the currents imply, on average)."""
        split = Split(ops, npar, ctx["members"], ctx["all_open"], ctx["current"], ctx["bleed"], r_tab, r_pb)
        c = ops.map_cells(circuit, n, {**ctx["cells"], "i": ops.from_members(currents, ns)})
        v_bar = ops.group_members(c["mean_voltage"], ns, npar)
        volts = split.implied_voltage(currents, v_bar) if volts is None else volts
        slope = ops.group_members(c["mean_voltage_slope"], ns, npar)
        t = {"currents": currents, "volts": volts, "c": c, "slope": slope}
        if "m0" in ctx:
            return {**t, **split.sticking(currents, volts, v_bar, slope, ctx["m0"], ctx["sign"])}
        residual, last = split.residuals(currents, volts, v_bar)
        return {**t, "residual": residual, "last": last}  # converged on the residual itself ("test")

    def iterate(t: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
        split = Split(ops, npar, ctx["members"], ctx["all_open"], ctx["current"], ctx["bleed"], r_tab, r_pb)
        return evaluate(ctx, *split.newton(t["currents"], t["volts"], t["slope"], t["residual"], t["last"],
                                           t.get("fixed"), t.get("hold")))

    trial = evaluate(context, [current / npar + 0.0 * members[j] for j in range(npar)], None)  # the equal split
    for _ in range(split_iterations(s)):  # generated code skips the iterations left once converged, as numpy
        done = ops.converged([*trial.get("test", trial["residual"]), trial["last"]], SPLIT_EXIT_V)
        if done is True:
            break
        trial = ops.unless(done, trial, iterate, context)
    currents, volts, c = trial["currents"], trial["volts"], trial["c"]
    fixed, hold = trial.get("fixed", members), trial.get("hold")
    cells["i"] = ops.from_members(currents, ns)
    test = trial.get("test", trial["residual"])
    split_residual = ops.largest(ops.cell_array([ops.largest(ops.fabs(r)) for r in test]))
    cells["c"] = c

    # -- heat: the cells' own, plus interconnect and bleed shares -------------------------------
    heat = ops.map_cells(lambda cc: cell.heat_over_step(ops, s.cell, _cell_parameters(p, cc["v"]), cell_x(cc),
                                                        cc["start"], cc["i"], cc["c"]), n, cells)
    cells["heat"] = heat
    losses = interconnect_losses(ops, s, p, currents, current, volts, bleed)
    cell_heat = heat["heat_W"] + losses["cell_share_W"]
    network = thermal_network(ops, s, p, starts["t_cell"], cell_heat, heat["heat_capacity"],
                              p["cell"]["heat_transfer_W_per_K"], dt)
    hysteresis = {"m0": context["m0"]} if "m0" in context else {}
    return {"cells": cells, "currents": currents, "volts": volts, "current": current, "members": members, **hysteresis,
            "fixed": fixed, "hold": hold, "all_open": all_open, "bleed": bleed, "split_residual": split_residual,
            "cell_heat": cell_heat,
            "interconnect": losses["interconnect_W"], "bleed_loss": losses["bleed_W"], **network}


class Split:
    """The parallel split's equations for all elements at once, at trial cell currents
    (``currents[j]``: the position-j cells of every element) and element voltages:

        V_j(I_j) - r_tab I_j - sum_m r_pb min(j, m) I_m - V_e = 0   (closed cells; an open one: I_j = 0)
        sum_j I_j - I - b V_e = 0                                   (b: the element's bleed conductance)

    where V_j is whatever cell voltage the caller splits on (the ECM module: the step mean; the
    electrochemical module: the end of the step); an element whose cells are all open takes the
    mean cell voltage. Positive current discharges."""

    def __init__(self, ops: Ops, npar: int, members: list[Any], all_open: Any, current: Any, bleed: Any,
                 r_tab: Any, r_pb: Any) -> None:
        self.ops, self.npar, self.members, self.all_open = ops, npar, members, all_open
        self.current, self.bleed, self.r_tab, self.r_pb = current, bleed, r_tab, r_pb

    def implied_voltage(self, currents: list[Any], v_cell: list[Any]) -> Any:
        """The element voltage the cells imply on average."""
        return sum(v_cell[j] - self.r_tab * currents[j] for j in range(self.npar)) / self.npar

    def busbar_drops(self, currents: list[Any]) -> list[Any]:
        """The parallel busbar's voltage drop from the tap (position 0) to each position,
        sum_m r_pb min(j, m) I_m, accumulated segment by segment (the segment into position k
        carries the currents of the cells from k on)."""
        drops = [0.0 * currents[0]]
        for k in range(1, self.npar):
            drops.append(drops[-1] + self.r_pb * sum(currents[k:]))
        return drops

    def residuals(self, currents: list[Any], volts: Any, v_cell: list[Any]) -> tuple[list[Any], Any]:
        """(one residual per position [V], the current balance [A])."""
        ops, npar, r_tab = self.ops, self.npar, self.r_tab
        drops = self.busbar_drops(currents)
        residual = [ops.where(self.members[j] > 0.5, currents[j], v_cell[j] - r_tab * currents[j] - drops[j] - volts)
                    for j in range(npar)]
        last = ops.where(self.all_open > 0.5, volts - self.implied_voltage(currents, v_cell),
                         sum(currents) - self.current - self.bleed * volts)
        return residual, last

    def newton(self, currents: list[Any], volts: Any, slope: list[Any], residual: list[Any], last: Any,
               fixed: list[Any] | None = None, hold: Any = None) -> tuple[list[Any], Any]:
        """The Newton update of (currents, volts), given each cell voltage's derivative in its
        current. Where the cell voltages are affine in their currents (the end of a step: slope
        -R0) one update solves the split exactly. ``fixed`` (default: the open cells) are the
        cells whose row is their current's own (``residual`` is then that current); where ``hold``
        (1 per element) no cell's voltage equation sets the element voltage: it moves by -``last``."""
        ops, npar, r_tab, r_pb = self.ops, self.npar, self.r_tab, self.r_pb
        fixed = self.members if fixed is None else fixed
        a = []
        for j in range(npar):  # a fixed cell's row is I_j's own; a closed cell's, its voltage equation
            closed = 1.0 - fixed[j]
            a.append([ops.where(closed > 0.5, slope[j] - r_tab - r_pb * j, 1.0) if m == j
                      else -r_pb * min(j, m) * closed if min(j, m) else 0.0 for m in range(npar)] + [-closed])
        some_closed = 1.0 - self.all_open if hold is None else (1.0 - self.all_open) * (1.0 - hold)
        a.append([some_closed] * npar + [ops.where(some_closed > 0.5, -self.bleed, 1.0)])
        delta = ops.solve_small(a, [-r for r in residual] + [-last])
        return [currents[j] + delta[j] for j in range(npar)], volts + delta[npar]

    def sticking(self, currents: list[Any], volts: Any, v_cell: list[Any], slope: list[Any], m0: list[Any],
                 sign: list[Any]) -> dict[str, Any]:
        """The split's equations with instantaneous hysteresis, M0 S with S in -Sign(I): set-valued
        where a cell carries no current, so such a cell may hold any voltage within M0 of the rest
        (its S anywhere in [-1, 1]), as a Coulomb friction holds within its limit. Written as
        S = clip(S - c I, -1, 1) (c > 0; here the cell's resistance over M0, so that c I is the
        voltage of a current in units of M0) and solved by semismooth Newton (an active set): a cell
        whose trial value S - c I lies inside (-1, 1) is stuck (its row: I = 0), any other slides
        with S = +-1 (its voltage equation). ``v_cell`` is the circuit's voltage with
        S = -sign(I), or the cell's own S before the step (``sign``) where I = 0.

        Where no cell of an element slides although the element must carry a current, every cell
        slides in that current's direction; where it carries none, the element voltage is held.
        Returns the Newton system's ``residual``, ``last`` and ``fixed`` (open or stuck cells),
        ``hold`` and the convergence residuals ``test`` [V] (a stuck cell's current times its
        resistance). A stuck cell's S is set at the step's end (:func:`stuck_at_end`)."""
        ops, npar, r_tab = self.ops, self.npar, self.r_tab
        drops = self.busbar_drops(currents)
        demand = self.current + self.bleed * volts
        out: dict[str, list[Any]] = {"free": [], "trial": [], "resistance": [], "stuck": []}
        for j in range(npar):
            i = currents[j]
            free = v_cell[j] - m0[j] * ops.where(i != 0, -ops.sign(i), sign[j])
            safe = ops.where(m0[j] > 0, m0[j], 1.0)
            sigma_hat = (volts + drops[j] + r_tab * i - free) / safe
            resistance = r_tab + self.r_pb * j - slope[j]
            trial = sigma_hat - resistance / safe * i
            # on the edge (|trial| = 1) a cell slides: the same solution there, and no cycling
            inside = ops.where(ops.fabs(trial) < 1.0 - 1e-9, 1.0, 0.0) * ops.where(m0[j] > 0, 1.0, 0.0)
            for key, value in zip(out, (free, trial, resistance, inside * (1.0 - self.members[j]))):
                out[key].append(value)
        closed = 1.0 - self.all_open
        none_slide = closed * _product([self.members[j] + out["stuck"][j] for j in range(npar)])
        carry = none_slide * ops.where(demand != 0, 1.0, 0.0)  # must carry a current: all slide its way
        # no cell slides and none must: every cell stuck, the element voltage kept where it is
        stuck = [st * (1.0 - carry) for st in out["stuck"]]
        hold = none_slide - carry
        direction = -ops.sign(demand)
        residual, test = [], []
        for j in range(npar):
            sigma = ops.where(carry > 0.5, direction, ops.clip(out["trial"][j], -1.0, 1.0))
            voltage = out["free"][j] + m0[j] * sigma - r_tab * currents[j] - drops[j] - volts
            held = ops.where(self.members[j] + stuck[j] > 0.5, 1.0, 0.0)
            residual.append(ops.where(held > 0.5, currents[j], voltage))
            test.append(ops.where(self.members[j] > 0.5, currents[j],
                                  ops.where(stuck[j] > 0.5, out["resistance"][j] * currents[j], voltage)))
        last = ops.where(self.all_open > 0.5, volts - self.implied_voltage(currents, v_cell),
                         ops.where(hold > 0.5, 0.0 * volts, sum(currents) - demand))
        fixed = [ops.where(self.members[j] + stuck[j] > 0.5, 1.0, 0.0) for j in range(npar)]
        return {"residual": residual, "last": last, "test": test, "fixed": fixed, "hold": hold}


def stuck_at_end(ops: Ops, npar: int, members: list[Any], fixed: list[Any], hold: Any, m0: list[Any],
                 sign: list[Any], end_v: list[Any], node: Any, drops: list[Any]) -> tuple[Any, list[Any]]:
    """The end of the step for stuck cells (no current; their voltage the node's, within their band):
    where every closed cell of an element is stuck, the node voltage is the cells' mean end voltage
    held within all their bands (a lone cell: its own); each stuck cell's S is then what puts its
    voltage at its node. Returns (node voltages, S per position)."""
    closed = [1.0 - mj for mj in members]
    lo = reduce(ops.fmax, [ops.where(closed[j] > 0.5, end_v[j] - m0[j] * (sign[j] + 1.0), -1e9) for j in range(npar)])
    hi = reduce(ops.fmin, [ops.where(closed[j] > 0.5, end_v[j] + m0[j] * (1.0 - sign[j]), 1e9) for j in range(npar)])
    count = ops.fmax(sum(closed), 1.0)
    rest = ops.clip(sum(closed[j] * end_v[j] for j in range(npar)) / count, lo, hi)
    node = ops.where(hold > 0.5, rest, node)
    out = []
    for j in range(npar):
        stuck = fixed[j] - members[j] > 0.5
        moved = sign[j] + (node + drops[j] - end_v[j]) / ops.where(m0[j] > 0, m0[j], 1.0)
        out.append(ops.where(stuck, ops.clip(moved, -1.0, 1.0), sign[j]))
    return node, out


def _product(values: list[Any]) -> Any:
    """The product of 0/1 flags (1 where all are 1)."""
    out = values[0]
    for v in values[1:]:
        out = out * v
    return out


def split_iterations(s: ModuleStructure) -> int:
    """Newton iterations the split may take: ``SPLIT_ITERATIONS``, and with instantaneous
    hysteresis two more per parallel cell (the active set may change once per cell each way)."""
    return SPLIT_ITERATIONS + (2 * s.n_parallel if s.cell is not None and s.cell.hysteresis else 0)


def interconnect_losses(ops: Ops, s: ModuleStructure, p: dict[str, Any], currents: list[Any], current: Any,
                        volts: Any, bleed: Any) -> dict[str, Any]:
    """Tab, parallel- and series-busbar losses and bleed heat of a step [W]: per cell
    (``interconnect_W``: tab, half of each adjacent busbar segment, its share of the series busbar;
    ``cell_share_W`` adds its share of its element's bleed heat) and per element (``bleed_W``)."""
    ns, npar = s.n_series, s.n_parallel
    r_tab, r_pb, r_sb = p["tab_resistance_ohm"], p["parallel_busbar_resistance_ohm"], p["series_busbar_resistance_ohm"]
    currents_cells = ops.from_members(currents, ns)
    busbar = [0.0 * volts for _ in range(npar)]
    for k in range(1, npar):  # the segment between positions k-1 and k carries the cells from k on
        flow_k = sum(currents[m] for m in range(k, npar))
        loss = r_pb * flow_k * flow_k
        busbar[k - 1] = busbar[k - 1] + 0.5 * loss
        busbar[k] = busbar[k] + 0.5 * loss
    bleed_loss = bleed * volts * volts  # per element
    # a pack's module shares the busbars to its neighbours (its p gives the string's shares)
    shares = ops.as_cells(p["series_shares"]) if "series_shares" in p else ops.cell_array(s.series_shares)
    series = r_sb * current * current * shares
    interconnect = r_tab * currents_cells * currents_cells + ops.from_members(busbar, ns) + series
    return {"interconnect_W": interconnect, "bleed_W": bleed_loss,
            "cell_share_W": interconnect + ops.repeat_groups(bleed_loss / npar, ns, npar)}


def thermal_network(ops: Ops, s: ModuleStructure, p: dict[str, Any], temps: Any, cell_heat: Any, heat_capacity: Any,
                    h_a: Any, dt: Any) -> dict[str, Any]:
    """The cells' thermal network over a step (see the module docstring): its matrix
    (``diagonal``, ``bands``) and right-hand side without the cold-plate and ambient terms
    (``rhs``; add ``g_plate`` x plate and ``h_a`` x ambient temperature), the temperatures at the
    start (``t_old``) and ``lag``, the fitted storage term minus C/dt (see :func:`external_heat`)."""
    g_plate, g_n = p["cold_plate_conductance_W_per_K"], p["neighbour_conductance_W_per_K"]
    conductance = g_plate + h_a + g_n * ops.cell_array(s.touches) + 0.0 * temps
    z = conductance * dt / heat_capacity
    storage = heat_capacity / dt * ops.exp(-z) / ops.phi1(z)  # C_i / dt_i
    bands = {k: -g_n * ops.cell_array(touching) for k, touching in s.bands.items()}
    return {"g_plate": g_plate + 0.0 * temps, "h_a": h_a + 0.0 * temps, "diagonal": storage + conductance,
            "bands": bands, "rhs": storage * temps + cell_heat, "t_old": temps,
            "lag": storage - heat_capacity / dt}


def thermal_response(ops: Ops, w: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """The cells' new temperatures and the module's heat to its cold plate and to the ambient over
    a step (step means, as :func:`summaries`) as affine functions of the plate and ambient
    temperatures, which they are (the network is linear; the electrical step, ``w``
    (:func:`electrical_step`), does not read them): for each flow its value at 0 K [W] and its
    derivatives in the plate and in the ambient temperature [W/K]; and the responses of the cell
    temperatures to 1, to the plate and to the ambient temperature (T_new = t_0 + t_plate
    T_plate + t_ambient T_ambient). What a pack needs to solve its modules' plates and enclosure
    with the cells inside the step."""
    r = mean_shift(ops, w)
    response = [ops.solve_spd_banded(w["diagonal"], w["bands"], column) for column in (w["rhs"], w["g_plate"], w["h_a"])]
    y = {}
    for name, g, own in (("heat_to_cold_plate", w["g_plate"], 1), ("heat_to_ambient", w["h_a"], 2)):
        # a cell's flow: g (T_mean - T) with T_mean = (1 + r) T_new - r T_old
        coefficients = [ops.total(g * (1.0 + r) * t) for t in response]
        coefficients[0] = coefficients[0] - ops.total(g * r * w["t_old"])
        coefficients[own] = coefficients[own] - ops.total(g)
        y[f"{name}_W"], y[f"{name}_per_plate_W_per_K"], y[f"{name}_per_ambient_W_per_K"] = coefficients
    return y, response


def finish_step(ops: Ops, s: ModuleStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any],
                w: dict[str, Any], t_new: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The end of the step, given the cells' new temperatures: the cells' end of step, the
    instantaneous split at the end, and the outputs."""
    ns, npar, n = s.n_series, s.n_parallel, s.n_cells
    r_tab, r_pb, r_sb = p["tab_resistance_ohm"], p["parallel_busbar_resistance_ohm"], p["series_busbar_resistance_ohm"]
    cells, currents, volts, current = w["cells"], w["currents"], w["volts"], w["current"]
    members, all_open, bleed = w["members"], w["all_open"], w["bleed"]
    cell_heat, interconnect, bleed_loss = w["cell_heat"], w["interconnect"], w["bleed_loss"]
    cells["t_new"] = t_new
    dt, currents_cells = u["dt_s"], cells["i"]

    def cell_x(c: dict[str, Any]) -> dict[str, Any]:
        return {**c["x"], "time_s": x["time_s"]}

    xn_cells, y_cells = ops.map_cells(
        lambda cc: cell.end_of_step(ops, s.cell, _cell_parameters(p, cc["v"]), cell_x(cc), cc["start"], cc["i"],
                                    cc["c"], cc["heat"], [cc["t_new"]]), n, cells)
    xn = {k: xn_cells[k] for k in s.cell_state_names()}
    xn["time_s"] = x["time_s"] + dt

    # -- the split at the end of the step: the instantaneous currents and voltages there ---------
    # At the end state a cell's terminal voltage is affine in its current (slope -R0), so one
    # linear solve per element gives the currents the parallel cells carry at that instant, with
    # equal node voltages (what a BMS samples); the step above used their step averages.
    end_v = ops.group_members(y_cells["voltage_V"], ns, npar)
    end_r0 = ops.group_members(y_cells["r0_ohm"], ns, npar)
    # Stuck cells (instantaneous hysteresis) carry none, at their node's voltage.
    held, fixed, hold = currents, w["fixed"], w["hold"]
    split = Split(ops, npar, fixed, all_open, current, bleed, r_tab, r_pb)
    residual, last = split.residuals(held, volts, end_v)
    if hold is not None:
        last = ops.where(hold > 0.5, 0.0, last)  # every closed cell stuck: the node stays at the split's
    end_currents, node = split.newton(held, volts, [-r for r in end_r0], residual, last, hold=hold)
    cell_current_end = ops.from_members(end_currents, ns)
    cell_voltage = [end_v[j] - (end_currents[j] - held[j]) * end_r0[j] for j in range(npar)]
    if "m0" in w:
        drops = split.busbar_drops(end_currents)
        node, sign = stuck_at_end(ops, npar, members, fixed, hold, w["m0"],
                                  ops.group_members(xn["hysteresis_sign"], ns, npar), end_v, node, drops)
        xn["hysteresis_sign"] = ops.from_members(sign, ns)
        cell_voltage = [ops.where(fixed[j] - members[j] > 0.5, node + drops[j], cell_voltage[j]) for j in range(npar)]
    cell_voltage = ops.from_members(cell_voltage, ns)

    # -- outputs ---------------------------------------------------------------------------------
    soc, temperature = y_cells["soc"], y_cells["temperature_K"]
    y = {
        "module_voltage_V": ops.total(node) - (ns - 1) * r_sb * current,
        "module_mean_voltage_V": ops.total(volts) - (ns - 1) * r_sb * current,
        "module_current_A": current,
        "cell_voltage_V": cell_voltage,
        "cell_current_A": cell_current_end,
        "cell_mean_current_A": currents_cells,
        "cell_soc": soc,
        "cell_temperature_K": temperature,
        "cell_heat_W": cell_heat,
        "element_voltage_V": node,
        **summaries(ops, cell_voltage, soc, temperature, cells["t_new"], w, u, interconnect, bleed_loss),
        "split_residual_V": w["split_residual"],
    }
    return xn, y


def mean_shift(ops: Ops, network: dict[str, Any]) -> Any:
    """Per cell, r with T_mean - T_new = r (T_new - T_old) over a step (see :func:`external_heat`);
    0 for a cell with neither a cold-plate nor an ambient path."""
    external = network["g_plate"] + network["h_a"]
    return ops.where(external > 0, network["lag"] / ops.where(external > 0, external, 1.0), 0.0 * external)


def external_heat(ops: Ops, network: dict[str, Any], t_new: Any) -> tuple[Any, Any]:
    """Per cell, the heat it gives the cold plate and the ambient over the step beyond the
    end-of-step flows G_plate (T_new - T_plate) and h_a (T_new - T_ambient) [W]: the flows are
    step means, G (T_mean - T_plate), with T_mean = T_new + r (T_new - T_old) (:func:`mean_shift`,
    r = lag / (G_plate + h_a), ``lag`` the network's fitted storage term minus C/dt).

    The fitted storage (C/dt e^-z / phi1(z), exact for one node with constant surroundings) makes
    end-of-step flows miss the heat balance; with these, summed over the cells, heat generated -
    C dT/dt = heat to the plate and the ambient exactly (neighbour flows cancel), and for one node
    they are the exact step means."""
    shift = mean_shift(ops, network) * (t_new - network["t_old"])
    return network["g_plate"] * shift, network["h_a"] * shift


def summaries(ops: Ops, cell_voltage: Any, soc: Any, temperature: Any, t_new: Any, network: dict[str, Any],
              u: dict[str, Any], interconnect: Any, bleed_loss: Any) -> dict[str, Any]:
    """A module's summary outputs, whatever its cells: lowest, highest and spread of the cell
    voltages, SOCs and temperatures; heat to the cold plate and to ambient over the step, step
    means (``network``: :func:`thermal_network`'s, see :func:`external_heat`); interconnect and
    bleed losses."""
    y: dict[str, Any] = {}
    for name, unit, values in (("voltage", "_V", cell_voltage), ("soc", "", soc), ("temperature", "_K", temperature)):
        lo, hi = ops.smallest(values), ops.largest(values)
        y[f"min_cell_{name}{unit}"], y[f"max_cell_{name}{unit}"], y[f"cell_{name}_spread{unit}"] = lo, hi, hi - lo
    plate_shift, ambient_shift = external_heat(ops, network, t_new)
    y["heat_to_cold_plate_W"] = ops.total(network["g_plate"] * (t_new - u["cold_plate_temperature_K"]) + plate_shift)
    y["heat_to_ambient_W"] = ops.total(network["h_a"] * (t_new - u["ambient_temperature_K"]) + ambient_shift)
    y["interconnect_loss_W"] = ops.total(interconnect)
    y["bleed_loss_W"] = ops.total(bleed_loss)
    return y
