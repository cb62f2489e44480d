"""A module of electrochemical cells (PyBaMM SPM or SPMe), stepped with numpy: ``ModuleEchemTwin``.

The circuit, the variation and the thermal network are those of :class:`ModuleTwin` (the same
functions of ``equations.module``: :class:`~fmutwin.equations.module.Split`, the interconnect
losses, the thermal network); the cells are an :class:`~fmutwin.twins.echem_batch.EchemBatch`.

The split, every step and with no lag. The cell currents are held over the step; they are the
ones for which the cells' terminal voltages **at the end of the step** satisfy Kirchhoff's laws
with the interconnects (tab, parallel busbar) and sum to the element current (module current plus
bleed) -- a cell's end voltage is not affine in its current here, so Newton's method solves it,
with the exact derivative dV/dI of the batch's step, from the previous step's currents with the
change of the element current shared by the cells' conductances of that step. Every iteration is one batched step of all cells; the step stops once every
residual is below ``EXIT_V`` (the number of batched steps is the output ``split_evaluations``),
and raises :class:`StateError` if ``MAX_EVALUATIONS`` do not bring it below ``TOLERANCE_V``.

Limits: a cell whose end voltage leaves the parameter set's cut-offs is logged (which cell, when)
and the module steps on, as a pack's cells do until a BMS acts; a cell whose surface
stoichiometry leaves [0, 1] (run empty or full: the model no longer holds) raises
:class:`StateError` naming it.

Thermal: each cell is isothermal over a step at its network temperature from the step's start;
its heat (PyBaMM's total heating at the end of the step, times the capacity scale) plus its
interconnect and bleed shares drives the module's network (exact per-node backward Euler) to the
end of the step. Sign convention: positive current discharges.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fmutwin.equations.module import Split, interconnect_losses, module_structure, summaries, thermal_network
from fmutwin.interface import StateError
from fmutwin.ops import NUMPY
from fmutwin.params.module_echem import ModuleEchemParameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.checks import finite_scalars, positive, switches
from fmutwin.twins.echem_batch import EchemBatch
from fmutwin.twins.module import cell_label
from fmutwin.twins.profile import run_profile

log = logging.getLogger(__name__)

#: the split stops once every residual is below this [V]
EXIT_V = 1e-10
#: and fails above this after MAX_EVALUATIONS batched cell steps [V]
TOLERANCE_V = 1e-9
MAX_EVALUATIONS = 8


class ModuleEchemTwin(ArrayState):
    """Ns series elements x Np parallel PyBaMM cells; ``threads`` for the batched cell step."""

    def __init__(self, params: ModuleEchemParameters, threads: int = 2) -> None:
        self.params = params.realise()
        pr = self.params
        self.structure = module_structure(None, pr.n_series, pr.n_parallel, pr.thermal.layout, pr.thermal.columns)
        self.batch = EchemBatch(pr.cell.model, pr.cell.parameter_set, pr.cell.bpx_file, pr.n_cells,
                                pr.cell.substeps, threads=threads)
        realised = {k: np.asarray(v, dtype=float) for k, v in (pr.realised or {}).items()}
        self.capacity_scale = realised["capacity_scale"]
        self.p = {**pr.interconnect.model_dump(), **pr.thermal.model_dump(include={
            "cold_plate_conductance_W_per_K", "neighbour_conductance_W_per_K"})}
        self.state = {"x": self.batch.initial_state(realised["initial_soc"]),
                      "temperature_K": realised["initial_temperature_K"].copy(),
                      "initial_soc": realised["initial_soc"].copy(),
                      "cell_current_A": np.zeros((pr.n_parallel, pr.n_series)),
                      "shares": np.full((pr.n_parallel, pr.n_series), 1.0 / pr.n_parallel),
                      "element_voltage_V": np.zeros(pr.n_series), "time_s": np.array(0.0)}
        self.outputs: dict[str, Any] = {}

    def step(self, current_A: float, dt_s: float, cold_plate_temperature_K: float = 298.15,
             ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, Any]:
        """Advance by ``dt_s`` with the module current (positive = discharge); ``bleed``: one 0/1
        per series element. Returns the outputs at the end of the step; raises ``InputError`` for
        bad inputs and ``StateError`` for a non-finite cell or a split that did not converge (the
        state is then unchanged)."""
        u = finite_scalars({"current_A": current_A, "dt_s": dt_s, "cold_plate_temperature_K": cold_plate_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K})
        positive(u, ("dt_s",))
        positive(u, ("cold_plate_temperature_K", "ambient_temperature_K"), " K")
        s, pr, st = self.structure, self.params, self.state
        ns, npar = s.n_series, s.n_parallel
        bleed_g = switches("bleed", bleed, ns, "series element") / pr.bleed_resistance_ohm
        current, dt, k = u["current_A"], u["dt_s"], self.capacity_scale
        r_tab, r_pb = self.p["tab_resistance_ohm"], self.p["parallel_busbar_resistance_ohm"]
        none_open = [np.zeros(ns) for _ in range(npar)]  # SPM/SPMe cells have no open-circuit fault
        split = Split(NUMPY, npar, none_open, np.zeros(ns), current, bleed_g, r_tab, r_pb)
        # the guess: the last step's currents, the change of the element current shared as the
        # cells' conductances at the last step (1 / (tab - dV/dI)); the equal split at the start
        volts_last = st["element_voltage_V"]
        element = current + bleed_g * volts_last
        change = element - st["cell_current_A"].sum(axis=0)
        currents = [st["cell_current_A"][j] + st["shares"][j] * change for j in range(npar)]
        volts = None
        for evaluations in range(1, MAX_EVALUATIONS + 1):
            cell_current = NUMPY.from_members(currents, ns)
            r = self.batch.step(st["x"], cell_current / k, st["temperature_K"], dt)
            bad = np.flatnonzero(~np.isfinite(r["voltage_V"]) | ~np.isfinite(r["x"]).all(axis=0))
            if bad.size:
                raise StateError(f"{cell_label(s, int(bad[0]))} became non-finite at t = {self.time_s + dt} s "
                                 f"(current {cell_current[bad[0]]:.6g} A)")
            v_cell = NUMPY.group_members(r["voltage_V"], ns, npar)
            volts = split.implied_voltage(currents, v_cell) if volts is None else volts
            residual, last = split.residuals(currents, volts, v_cell)
            worst = max(float(np.max(np.abs(x))) for x in residual)
            if worst < EXIT_V and float(np.max(np.abs(last))) < 1e-12 * max(1.0, abs(current)):
                break
            slope = NUMPY.group_members(r["dv_di_ohm"] / k, ns, npar)
            currents, volts = split.newton(currents, volts, slope, residual, last)
        for side in ("negative", "positive"):  # past an electrode's end the model does not hold
            theta = r[f"{side}_surface_stoichiometry"]
            out_of_range = np.flatnonzero((theta < 0.0) | (theta > 1.0))
            if out_of_range.size:
                c = int(out_of_range[0])
                raise StateError(f"{cell_label(s, c)}: {side} particle surface stoichiometry {theta[c]:.6g} left "
                                 f"[0, 1] at t = {self.time_s + dt} s (the cell is run empty or full)")
        if worst > TOLERANCE_V:
            raise StateError(f"the current split did not converge at t = {self.time_s + dt} s (residual {worst:.3g} V "
                             f"after {evaluations} cell steps)")
        losses = interconnect_losses(NUMPY, s, self.p, currents, current, volts, bleed_g)
        heat = r["heat_W"] * k + losses["cell_share_W"]
        network = thermal_network(NUMPY, s, self.p, st["temperature_K"], heat, pr.cell.heat_capacity_J_per_K * k,
                                   pr.cell.heat_transfer_W_per_K, dt)
        t_new = NUMPY.solve_spd_banded(network["diagonal"], network["bands"], network["rhs"]
                                       + network["g_plate"] * u["cold_plate_temperature_K"]
                                       + network["h_a"] * u["ambient_temperature_K"])
        soc = st["initial_soc"] - r["discharged_Ah"] / self.batch.window_capacity_Ah
        y = self._outputs(r["voltage_V"], cell_current, soc, t_new, heat, volts, current, losses, network, u)
        y["split_residual_V"], y["split_evaluations"] = np.array(worst), np.array(float(evaluations))
        lo, hi = self.batch.voltage_limits_V
        outside = np.flatnonzero((r["voltage_V"] < lo) | (r["voltage_V"] > hi))
        if outside.size:
            log.warning("%s: voltage %.6g V left [%s, %s] V at t = %s s", cell_label(s, int(outside[0])),
                        float(r["voltage_V"][outside[0]]), lo, hi, self.time_s + dt)
        conductance = 1.0 / (r_tab - np.array(slope if evaluations > 1 else
                                              NUMPY.group_members(r["dv_di_ohm"] / k, ns, npar)))
        self.state = {**st, "x": r["x"], "temperature_K": t_new, "cell_current_A": np.array(currents),
                      "shares": conductance / conductance.sum(axis=0), "element_voltage_V": volts,
                      "time_s": np.array(self.time_s + dt)}
        self.outputs = y
        return y

    def _outputs(self, v_cell: np.ndarray, cell_current: np.ndarray, soc: np.ndarray, t_new: np.ndarray,
                 heat: np.ndarray, volts: np.ndarray, current: float, losses: dict[str, Any],
                 network: dict[str, Any], u: dict[str, float]) -> dict[str, Any]:
        """The module's outputs at the end of the step (names as :class:`ModuleTwin`'s)."""
        r_sb, ns = self.p["series_busbar_resistance_ohm"], self.structure.n_series
        y: dict[str, Any] = {
            "module_voltage_V": np.array(volts.sum() - (ns - 1) * r_sb * current),
            "module_current_A": np.array(current),
            "cell_voltage_V": v_cell, "cell_current_A": cell_current, "cell_soc": soc,
            "cell_temperature_K": t_new, "cell_heat_W": heat, "element_voltage_V": volts,
            **summaries(NUMPY, v_cell, soc, t_new, t_new, network, u, losses["interconnect_W"], losses["bleed_W"]),
        }
        return y

    def run(self, time_s: Any, current_A: Any, cold_plate_temperature_K: float = 298.15,
            ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, np.ndarray]:
        """Step through a current profile (positive = discharge), held over each interval."""
        return run_profile(self.step, time_s, {"current_A": current_A},
                           {"cold_plate_temperature_K": cold_plate_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K, "bleed": bleed})
