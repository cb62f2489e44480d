"""The BMS twin: what a battery management system computes from what it measures (series-element
voltages, temperatures, the pack current, time). So far: the SoC of every series element by
coulomb counting and by an extended or unscented Kalman filter on the cell equations
(:mod:`fmutwin.equations.bms_estimation`), or by the adaptive filter that also estimates each
element's R0 (its factor on the cell file's, and SoH by resistance, (R_EOL - R)/(R_EOL - R_new)),
vectorised over the elements, and the pack's lowest, highest, mean and usable SoC; the pack's
discharge and charge current and power limits (:mod:`fmutwin.equations.bms_limits`); debounced
alarms, sensor plausibility and rest detection (:mod:`fmutwin.equations.bms_monitoring`). Positive current discharges the pack.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fmutwin.equations import bms as equations
from fmutwin.equations import bms_estimation as estimation
from fmutwin.interface import InputError, StateError
from fmutwin.ops import NUMPY
from fmutwin.params.bms import BmsParameters
from fmutwin.twins.array_state import ArrayState
from fmutwin.twins.cell_ecm import equation_parameters
from fmutwin.twins.checks import finite_scalars, positive
from fmutwin.twins.profile import run_profile


def bms_parameters(params: BmsParameters) -> tuple[equations.BmsStructure, dict[str, Any]]:
    """The BMS equations' structure and numeric parameters (every setting in SI: C-rates as
    currents of an element of ``n_parallel`` cells)."""
    s, p = equation_parameters(params.cell)
    structure = equations.BmsStructure(estimation.estimator_structure(s), params.n_series, params.estimator.method)
    cell_p = estimation.element_parameters(p, params.n_parallel)
    capacity = float(cell_p["nominal_capacity_As"] * cell_p["capacity_calendar_factor"])
    one_c = capacity / 3600.0  # the element's 1C [A]
    est, lim, mon = params.estimator, params.limits, params.monitoring
    ch, bal, h = params.charge, params.balancing, params.health
    return structure, {
        "cell": cell_p, "capacity_As": capacity, "pack_voltage_measured": 0.0,
        "estimator": {**est.model_dump(exclude={"method", "initial_soc"}), "soc_from_ocv": float(est.initial_soc is None),
                      "initial_soc": 0.5 if est.initial_soc is None else est.initial_soc},
        "limits": {"horizon_s": lim.horizon_s, "min_voltage_V": lim.min_cell_voltage_V + lim.voltage_margin_V,
                   "max_voltage_V": lim.max_cell_voltage_V - lim.voltage_margin_V,
                   "max_discharge_current_A": lim.max_discharge_c_rate * one_c,
                   "max_charge_current_A": lim.max_charge_c_rate * one_c,
                   "derating_temperature_K": np.array(lim.derating_temperature_K),
                   "discharge_derating": np.array(lim.discharge_derating),
                   "charge_derating": np.array(lim.charge_derating),
                   "soc_window_low": lim.soc_window[0], "soc_window_high": lim.soc_window[1],
                   "voltage_feedback": float(lim.voltage_feedback),
                   **lim.model_dump(include={"feedback_band_V", "feedback_time_s", "feedback_lookahead_s",
                                             "feedback_recovery_per_s"})},
        "monitoring": {**mon.model_dump(exclude={"over_current_discharge_c_rate", "over_current_charge_c_rate",
                                                 "rest_c_rate"}),
                       "over_current_discharge_A": mon.over_current_discharge_c_rate * one_c,
                       "over_current_charge_A": mon.over_current_charge_c_rate * one_c,
                       "rest_current_A": mon.rest_c_rate * one_c},
        "charge": {"cc_current_A": ch.cc_c_rate * one_c, "cv_voltage_V": ch.cv_voltage_V,
                   "termination_current_A": ch.termination_c_rate * one_c},
        "balancing": bal.model_dump(),
        "health": {**h.model_dump(exclude={"compensate_cycles"}), "compensate_cycles": float(h.compensate_cycles)}}


def usable_soc(soc: np.ndarray) -> float:
    """The pack SoC that respects the weakest element (:func:`fmutwin.equations.bms.usable_soc`)."""
    return float(equations.usable_soc(NUMPY, np.asarray(soc, dtype=float)))


class BmsTwin(ArrayState):
    """The BMS of ``n_series`` elements of ``n_parallel`` cells: :func:`fmutwin.equations.bms.step`
    with numpy, the inputs checked first."""

    def __init__(self, params: BmsParameters) -> None:
        self.params = params
        self.structure, self.p = bms_parameters(params)
        self.n = params.n_series
        #: the same parameters for steps that give a pack voltage (the plausibility check reads it)
        self._p_measured = {**self.p, "pack_voltage_measured": 1.0}
        self.transition, self.measurement, self.horizon_voltage = equations.models(self.structure, self.p)
        x0 = equations.initial_state(NUMPY, self.structure, self.p)
        self.state = {k: np.array(v, dtype=float) for k, v in x0.items()}

    # -- state -------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The whole state as named lists of floats (JSON-serialisable): time, whether started,
        the filter's state and covariance, the coulomb count, the alarms, timers and switches."""
        return {k: v.tolist() for k, v in self.state.items()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        missing = sorted(set(self.state) - set(state))
        if missing:
            raise StateError(f"the BMS state lacks {missing}")
        self.state = {k: np.array(state[k], dtype=float) for k in self.state}

    # -- inputs ------------------------------------------------------------------------------------
    def _per_element(self, name: str, value: Any, unit: str) -> np.ndarray:
        arr = np.asarray(value, dtype=float).reshape(-1)
        if arr.size == 1:
            arr = np.full(self.n, arr[0])
        if arr.shape != (self.n,):
            raise InputError(f"input {name}: {arr.size} values for {self.n} series elements")
        bad = np.flatnonzero(~np.isfinite(arr) | ((arr <= 0) if unit == "K" else False))
        if bad.size:
            raise InputError(f"input {name}[{bad[0]}] = {arr[bad[0]]!r} [{unit}] must be finite"
                             + (" and > 0" if unit == "K" else ""))
        return arr

    def soc_from_ocv(self, voltage_V: Any, temperature_K: Any) -> np.ndarray:
        """The SoC whose rest voltage (OCV, no RC voltage, no current) is ``voltage_V`` at
        ``temperature_K``, per element (clipped to [0, 1]); :class:`StateError` where the cell
        file's OCV does not increase in SoC (no SoC follows from it)."""
        voltage = np.broadcast_to(np.asarray(voltage_V, dtype=float), self.n)
        temperature = np.broadcast_to(np.asarray(temperature_K, dtype=float), self.n)
        grid = np.linspace(0.0, 1.0, 2001)
        for t in np.unique(temperature):
            if np.any(np.diff(equations.rest_voltage(NUMPY, self.structure, self.p, grid, t)) <= 0):
                raise StateError(f"the cell file's OCV is not increasing in SoC at {t} K: no SoC from the OCV "
                                 "(give estimator.initial_soc, and rest_s long enough only where it is)")
        return equations.soc_from_ocv(NUMPY, self.structure, self.p, voltage, temperature)

    # -- the step ----------------------------------------------------------------------------------
    def step(self, element_voltage_V: Any, temperature_K: Any, current_A: float, dt_s: float,
             pack_voltage_V: float | None = None, charger_connected: float = 0.0) -> dict[str, Any]:
        """Advance by ``dt_s`` with the pack current held over the step (positive = discharge) and
        the element voltages and temperatures measured at its end (and the pack voltage, if the
        pack measures it); ``charger_connected`` 1: ask the charger for a CC-CV current. Raises
        :class:`InputError` naming a NaN, infinite or out-of-range input, :class:`StateError` for
        a non-finite estimate (the state is kept either way)."""
        u = finite_scalars({"current_A": current_A, "dt_s": dt_s, "charger_connected": charger_connected})
        positive(u, ("dt_s",))
        if u["charger_connected"] not in (0.0, 1.0):
            raise InputError(f"input charger_connected = {charger_connected!r} must be 0 or 1")
        u["pack_voltage_V"] = 0.0 if pack_voltage_V is None else finite_scalars(
            {"pack_voltage_V": pack_voltage_V})["pack_voltage_V"]
        u["element_voltage_V"] = self._per_element("element_voltage_V", element_voltage_V, "V")
        u["temperature_K"] = self._per_element("temperature_K", temperature_K, "K")
        if not self.state["started"] and self.p["estimator"]["soc_from_ocv"]:
            self.soc_from_ocv(u["element_voltage_V"], u["temperature_K"])  # refuses an OCV it cannot invert
        p = self.p if pack_voltage_V is None else self._p_measured
        x_next, y = equations.step(NUMPY, self.structure, p, self.state, u)
        if not all(np.isfinite(v).all() for v in x_next.values()):
            raise StateError(f"at t = {self.time_s + u['dt_s']} s: the estimate became non-finite")
        self.state = {k: np.array(v, dtype=float) for k, v in x_next.items()}
        return {k: float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float) for k, v in y.items()}

    def run(self, time_s: Any, current_A: Any, element_voltage_V: Any, temperature_K: Any,
            pack_voltage_V: Any = None, progress: Callable[[int], Any] | None = None) -> dict[str, np.ndarray]:
        """Step through logged measurements: ``current_A[k]`` held over ``[t_k, t_k+1]``,
        ``element_voltage_V[k]`` and ``temperature_K[k]`` (one row of elements) and
        ``pack_voltage_V[k]`` (optional) at ``t_k+1``; ``progress(1)`` after each step."""
        profile = {"current_A": current_A, "element_voltage_V": element_voltage_V, "temperature_K": temperature_K}
        if pack_voltage_V is not None:
            profile["pack_voltage_V"] = pack_voltage_V
        return run_profile(self.step, time_s, profile, {}, progress)
