"""The module twin: Ns x Np cells of one cell parameter file, stepped with numpy.

A :class:`ModuleTwin` turns :class:`fmutwin.params.module.ModuleParameters` into the module
equations' structure and parameters (``equations.module``: exact current split, interconnects,
bleed resistors, thermal network) and steps them, vectorised over the cells. Positive current
discharges the module.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import numpy as np

from fmutwin.equations import module
from fmutwin.equations.module import ModuleStructure, module_structure
from fmutwin.interface import StateError
from fmutwin.ops import NUMPY, TableRangeError
from fmutwin.params.module import ModuleParameters
from fmutwin.twins.cell_ecm import equation_parameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.checks import finite_scalars, positive, switches
from fmutwin.twins.profile import run_profile

log = logging.getLogger(__name__)

#: the largest split residual a step accepts [V] (Newton reaches ~1e-15)
SPLIT_TOLERANCE_V = 1e-9


def module_equation_parameters(params: ModuleParameters,
                               block: int | None = None) -> tuple[ModuleStructure, dict[str, Any]]:
    """The module's static structure and numeric parameters (the cell's shared, the variation per
    cell, realised from the file); ``block``: cells per thermally separate block (a pack's modules)."""
    params = params.realise()
    cell_structure, cell_p = equation_parameters(params.cell)
    structure = module_structure(cell_structure, params.n_series, params.n_parallel, params.thermal.layout,
                                 params.thermal.columns, block)
    ic, th = params.interconnect, params.thermal
    p: dict[str, Any] = {
        "cell": cell_p,
        **{k: np.asarray(params.realised[k], dtype=float) for k in module.VARYING},  # type: ignore[index]
        "tab_resistance_ohm": ic.tab_resistance_ohm,
        "parallel_busbar_resistance_ohm": ic.parallel_busbar_resistance_ohm,
        "series_busbar_resistance_ohm": ic.series_busbar_resistance_ohm,
        "neighbour_conductance_W_per_K": th.neighbour_conductance_W_per_K,
        "cold_plate_conductance_W_per_K": th.cold_plate_conductance_W_per_K,
        "bleed_resistance_ohm": params.bleed_resistance_ohm,
    }
    return structure, p


def cell_label(structure: ModuleStructure, c: int) -> str:
    """``cell 5 (element 2, position 1)``."""
    return f"cell {c} (element {c // structure.n_parallel}, position {c % structure.n_parallel})"


def checked_result(structure: ModuleStructure, soc_limits: tuple[float, float], xn: Mapping[str, Any],
                   y: Mapping[str, Any], time_s: float) -> None:
    """Refuse a step's result that is not finite (naming the cell) or whose split did not converge
    (:class:`StateError`), and log a cell whose SOC left its limits (which cell, when)."""
    values = {**xn, **y}
    if not np.isfinite(np.concatenate([np.ravel(v) for v in values.values()])).all():
        key, arr = next((k, np.asarray(v, dtype=float)) for k, v in values.items()
                        if not np.isfinite(np.asarray(v, dtype=float)).all())
        where = f" ({cell_label(structure, int(np.flatnonzero(~np.isfinite(arr))[0]))})" \
            if arr.size == structure.n_cells else ""
        raise StateError(f"{key} became non-finite{where} at t = {time_s} s")
    if float(y["split_residual_V"]) > SPLIT_TOLERANCE_V:
        raise StateError(f"the current split did not converge at t = {time_s} s (residual "
                         f"{float(y['split_residual_V']):.3g} V)")
    lo, hi = soc_limits
    outside = np.flatnonzero((y["cell_soc"] < lo) | (y["cell_soc"] > hi))
    if outside.size:
        log.warning("%s: SOC %.6g left [%s, %s] at t = %s s", cell_label(structure, int(outside[0])),
                    float(y["cell_soc"][outside[0]]), lo, hi, time_s)


class ModuleTwin(ArrayState):
    """A module of Ns series elements x Np parallel cells, stepped with numpy."""

    def __init__(self, params: ModuleParameters) -> None:
        self.params = params.realise()
        self.structure, self.p = module_equation_parameters(self.params)
        x0 = module.initial_state(NUMPY, self.structure, self.p)
        self.state = {k: np.array(v, dtype=float) for k, v in x0.items()}
        self.outputs: dict[str, Any] = {}

    def step(self, current_A: float, dt_s: float, cold_plate_temperature_K: float = 298.15,
             ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, Any]:
        """Advance by ``dt_s`` with the module current (positive = discharge); ``bleed``: one 0/1
        per series element (default all off). Returns the outputs at the end of the step.

        Raises :class:`InputError` for NaN/inf or out-of-range inputs and :class:`StateError` for
        a non-finite result or a split that did not converge; the state is then unchanged.
        """
        u: dict[str, Any] = finite_scalars({"current_A": current_A, "cold_plate_temperature_K": cold_plate_temperature_K,
                                            "ambient_temperature_K": ambient_temperature_K, "dt_s": dt_s})
        positive(u, ("dt_s",))
        positive(u, ("cold_plate_temperature_K", "ambient_temperature_K"), " K")
        u["bleed"] = switches("bleed", bleed, self.structure.n_series, "series element")
        try:
            xn, y = module.step(NUMPY, self.structure, self.p, self.state, u)
        except TableRangeError as exc:
            raise StateError(f"at t = {self.time_s + dt_s} s: {exc}") from None
        checked_result(self.structure, self.params.cell.soc_limits, xn, y, self.time_s + dt_s)
        self.state = {k: np.array(v, dtype=float) for k, v in xn.items()}
        self.outputs = y
        return y

    def run(self, time_s: Any, current_A: Any, cold_plate_temperature_K: float = 298.15,
            ambient_temperature_K: float = 298.15, bleed: Any = None) -> dict[str, np.ndarray]:
        """Step through a profile (``current_A[k]`` held over ``[t_k, t_k+1]``); arrays over the
        profile, cell quantities with a second axis over the cells."""
        return run_profile(self.step, time_s, {"current_A": current_A},
                           {"cold_plate_temperature_K": cold_plate_temperature_K,
                            "ambient_temperature_K": ambient_temperature_K, "bleed": bleed})
