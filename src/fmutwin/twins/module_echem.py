"""A module of electrochemical cells (PyBaMM SPM or SPMe), stepped with numpy: ``ModuleEchemTwin``.

The circuit, the variation and the thermal network are those of :class:`ModuleTwin`; the step is
:func:`fmutwin.equations.module_echem.step` (the split at the end of each step by Newton with
the cells' exact dV/dI, the same text the native ModuleEchem FMU generates as C), its cells an
:class:`~fmutwin.twins.echem_batch.EchemBatch` (compiled and mapped over threads).

Errors (the state is then unchanged): a non-finite cell, a cell whose surface stoichiometry
leaves [0, 1] (run empty or full: the model no longer holds) and a split not below
``TOLERANCE_V`` after ``MAX_EVALUATIONS`` cell steps raise :class:`StateError` naming the cell;
a cell whose end voltage leaves the parameter set's cut-offs is logged (which cell, when) and the
module steps on, as a pack's cells do until a BMS acts. Sign convention: positive current
discharges.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fmutwin.equations import module_echem
from fmutwin.equations.module import module_structure
from fmutwin.equations.module_echem import ModuleEchemStructure
from fmutwin.interface import StateError
from fmutwin.ops import NUMPY
from fmutwin.params.module_echem import ModuleEchemParameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.checks import finite_scalars, positive, switches
from fmutwin.twins.echem_batch import EchemBatch
from fmutwin.twins.module import cell_label
from fmutwin.twins.profile import run_profile

log = logging.getLogger(__name__)


def module_echem_parameters(params: ModuleEchemParameters) -> dict[str, Any]:
    """The equations' numbers of a (realised) module file: the variation per cell, interconnects,
    conductances, bleed resistance."""
    realised = {k: np.asarray(v, dtype=float) for k, v in (params.realised or {}).items()}
    return {**{k: realised[k] for k in ("capacity_scale", "initial_soc", "initial_temperature_K")},
            **params.interconnect.model_dump(),
            **params.thermal.model_dump(include={"cold_plate_conductance_W_per_K", "neighbour_conductance_W_per_K"}),
            "bleed_resistance_ohm": params.bleed_resistance_ohm}


def cell_batch(params: ModuleEchemParameters, n_cells: int, threads: int = 2) -> EchemBatch:
    """The module file's cells (model, parameter set or BPX file, scheme) as a batch of ``n_cells``."""
    cell = params.cell
    return EchemBatch(cell.model, cell.parameter_set, cell.bpx_file, n_cells, cell.substeps, threads=threads,
                      scheme=cell.scheme or "ros2", newton_iterations=cell.newton_iterations or 1)


class ModuleEchemTwin(ArrayState):
    """Ns series elements x Np parallel PyBaMM cells; ``threads`` for the batched cell step."""

    def __init__(self, params: ModuleEchemParameters, threads: int = 2) -> None:
        self.params = params.realise()
        pr = self.params
        self.batch = cell_batch(pr, pr.n_cells, threads)
        batch = self.batch
        self.structure = ModuleEchemStructure(
            module_structure(None, pr.n_series, pr.n_parallel, pr.thermal.layout, pr.thermal.columns),
            lambda ops, x, current, temperature, dt: batch.step(x, current, temperature, dt),
            lambda ops, soc: batch.initial_state(soc), batch.window_capacity_Ah,
            pr.cell.heat_capacity_J_per_K, pr.cell.heat_transfer_W_per_K)
        self.p = module_echem_parameters(pr)
        self.state = {k: np.array(v, dtype=float) for k, v in
                      module_echem.initial_state(NUMPY, self.structure, self.p).items()}
        self.outputs: dict[str, Any] = {}

    def step(self, current_A: float, dt_s: float, cold_plate_temperature_K: float = 298.15,
             ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, Any]:
        """Advance by ``dt_s`` with the module current (positive = discharge); ``bleed``: one 0/1
        per series element. Returns the outputs at the end of the step; raises ``InputError`` for
        bad inputs and ``StateError`` for a non-finite cell, a surface stoichiometry outside
        [0, 1] or a split that did not converge (the state is then unchanged)."""
        u = finite_scalars({"current_A": current_A, "dt_s": dt_s, "cold_plate_temperature_K": cold_plate_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K})
        positive(u, ("dt_s",))
        positive(u, ("cold_plate_temperature_K", "ambient_temperature_K"), " K")
        s = self.structure.module
        u["bleed"] = switches("bleed", bleed, s.n_series, "series element")
        t_end = self.time_s + u["dt_s"]
        x_new, y = module_echem.step(NUMPY, self.structure, self.p, self.state, u)
        bad = np.flatnonzero(~np.isfinite(y["cell_voltage_V"]) | ~np.isfinite(x_new["cells"]).all(axis=0))
        if bad.size:
            raise StateError(f"{cell_label(s, int(bad[0]))} became non-finite at t = {t_end} s "
                             f"(current {y['cell_current_A'][bad[0]]:.6g} A)")
        for side in ("negative", "positive"):  # past an electrode's end the model does not hold
            theta = y[f"cell_{side}_surface_stoichiometry"]
            out_of_range = np.flatnonzero((theta < 0.0) | (theta > 1.0))
            if out_of_range.size:
                c = int(out_of_range[0])
                raise StateError(f"{cell_label(s, c)}: {side} particle surface stoichiometry {theta[c]:.6g} left "
                                 f"[0, 1] at t = {t_end} s (the cell is run empty or full)")
        if float(y["split_residual_V"]) > module_echem.TOLERANCE_V:
            raise StateError(f"the current split did not converge at t = {t_end} s (residual "
                             f"{float(y['split_residual_V']):.3g} V after {int(y['split_evaluations'])} cell steps)")
        lo, hi = self.batch.voltage_limits_V
        outside = np.flatnonzero((y["cell_voltage_V"] < lo) | (y["cell_voltage_V"] > hi))
        if outside.size:
            log.warning("%s: voltage %.6g V left [%s, %s] V at t = %s s", cell_label(s, int(outside[0])),
                        float(y["cell_voltage_V"][outside[0]]), lo, hi, t_end)
        self.state = {k: np.array(v, dtype=float) for k, v in x_new.items()}
        self.outputs = {k: np.asarray(v) for k, v in y.items()}
        return self.outputs

    def run(self, time_s: Any, current_A: Any, cold_plate_temperature_K: float = 298.15,
            ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, np.ndarray]:
        """Step through a current profile (positive = discharge), held over each interval."""
        return run_profile(self.step, time_s, {"current_A": current_A},
                           {"cold_plate_temperature_K": cold_plate_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K, "bleed": bleed})
