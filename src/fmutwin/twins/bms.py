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

from typing import Any

import numpy as np

from fmutwin.equations import bms_estimation as estimation
from fmutwin.equations import bms_control, bms_health, bms_limits, bms_monitoring
from fmutwin.equations.tables import mean_over_soc
from fmutwin.equations import cell
from fmutwin.interface import InputError, StateError
from fmutwin.ops import NUMPY
from fmutwin.params.bms import BmsParameters
from fmutwin.twins.cell_ecm import equation_parameters
from fmutwin.twins.checks import finite_scalars, positive
from fmutwin.twins.profile import run_profile


#: the capacity estimate stays within this range of the cell file's, and a measurement more than
#: MAX_CAPACITY_STEP (relative) from the estimate is an outlier (a bad OCV reading), not used
CAPACITY_RANGE = (0.3, 1.5)
MAX_CAPACITY_STEP = 0.5
#: the state entries that are one array (or number) each
_PLAIN_STATE = ("soc_cc", "rest_s", "voltage", "unchanged_s", "charge_complete", "candidate", "bleed", "bleed_on_s",
                "capacity_As", "capacity_var", "anchored", "anchor_soc", "anchor_charge_As", "charge_As",
                "discharged_As", "charged_As")


def usable_soc(soc: np.ndarray) -> float:
    """The pack SoC that respects the weakest element: 0 when the lowest element is empty, 1 when
    the highest is full, min / (min + 1 - max) between (Plett, Battery Management Systems II)."""
    low, high = float(np.clip(np.min(soc), 0.0, 1.0)), float(np.clip(np.max(soc), 0.0, 1.0))
    return low / max(low + 1.0 - high, 1e-12)


class BmsTwin:
    """SoC estimation for ``n_series`` elements of ``n_parallel`` cells."""

    def __init__(self, params: BmsParameters) -> None:
        self.params = params
        s, p = equation_parameters(params.cell)
        self.structure = estimation.estimator_structure(s)
        self.p = estimation.element_parameters(p, params.n_parallel)
        self.adaptive = params.estimator.method == "adaptive"
        self.transition, self.measurement = estimation.model(self.structure, self.p, self.adaptive)
        self.capacity_As = float(self.p["nominal_capacity_As"] * self.p["capacity_calendar_factor"])
        n_z = len(estimation.state_names(self.structure, self.adaptive))
        self.horizon_voltage = bms_limits.horizon_voltage(self.transition, self.measurement, n_z)
        lim = params.limits
        rated = self.capacity_As / 3600.0  # the element's 1C [A]
        self.limit_settings = {
            "horizon_s": lim.horizon_s, "min_voltage_V": lim.min_cell_voltage_V + lim.voltage_margin_V,
            "max_voltage_V": lim.max_cell_voltage_V - lim.voltage_margin_V,
            "max_discharge_current_A": lim.max_discharge_c_rate * rated, "max_charge_current_A": lim.max_charge_c_rate * rated,
            "derating_temperature_K": np.array(lim.derating_temperature_K), "soc_window": lim.soc_window,
            "discharge_derating": np.array(lim.discharge_derating), "charge_derating": np.array(lim.charge_derating)}
        self.n = params.n_series
        mon = params.monitoring
        self.monitor_settings = {
            **mon.model_dump(exclude={"over_current_discharge_c_rate", "over_current_charge_c_rate", "debounce_s",
                                      "rest_c_rate", "stuck_resolution_V"}),
            "over_current_discharge_A": mon.over_current_discharge_c_rate * rated,
            "over_current_charge_A": mon.over_current_charge_c_rate * rated}
        self.state: dict[str, Any] | None = None  # made at the first step (the guess may need a voltage)
        self.time_s = 0.0

    # -- state -------------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The whole state as named lists of floats (JSON-serialisable): time, then, once started,
        the filter's state and covariance, the coulomb count, the alarms, timers and switches."""
        out: dict[str, Any] = {"time_s": self.time_s, "started": float(self.state is not None)}
        if self.state is None:
            return out
        st = self.state
        out.update({f"z{k}": np.asarray(v, dtype=float).tolist() for k, v in enumerate(st["z"])})
        out.update({f"covariance{i}_{j}": np.asarray(v, dtype=float).tolist()
                    for i, row in enumerate(st["covariance"]) for j, v in enumerate(row)})
        for name, (timer, flag) in st["alarms"].items():
            out[f"alarm_timer_{name}"] = np.asarray(timer, dtype=float).tolist()
            out[f"alarm_flag_{name}"] = np.asarray(flag, dtype=float).tolist()
        out.update({k: np.asarray(st[k], dtype=float).tolist() for k in _PLAIN_STATE})
        return out

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        if "time_s" not in state or "started" not in state:
            raise StateError("a BMS state needs time_s and started")
        if state["started"]:
            expected = set(self.get_state()) if self.state is not None else None
            missing = sorted(expected - set(state)) if expected else [k for k in _PLAIN_STATE if k not in state]
            if missing:
                raise StateError(f"the BMS state lacks {missing}")
        self.time_s = float(state["time_s"])
        if not state["started"]:
            self.state = None
            return
        n_z = len(estimation.state_names(self.structure, self.adaptive))

        def arr(key: str) -> Any:
            value = np.array(state[key], dtype=float)
            return float(value) if value.ndim == 0 else value

        self.state = {"z": [arr(f"z{k}") for k in range(n_z)],
                      "covariance": [[arr(f"covariance{i}_{j}") for j in range(n_z)] for i in range(n_z)],
                      "alarms": {name: (arr(f"alarm_timer_{name}"), arr(f"alarm_flag_{name}"))
                                 for name in (*bms_monitoring.PACK_ALARMS, *bms_monitoring.ELEMENT_ALARMS)},
                      **{k: arr(k) for k in _PLAIN_STATE}}

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

    def _initial_state(self, voltage: np.ndarray, temperature: np.ndarray) -> dict[str, Any]:
        est = self.params.estimator
        soc = np.full(self.n, est.initial_soc) if est.initial_soc is not None else self.soc_from_ocv(voltage, temperature)
        z = [soc] + [np.zeros(self.n) for _ in range(self.structure.n_rc)] + [np.ones(self.n)] * self.adaptive
        variances = ([est.initial_soc_std ** 2] + [est.rc_process_noise_V ** 2] * self.structure.n_rc
                     + [est.r0_factor_std ** 2] * self.adaptive)
        covariance = [[np.full(self.n, variances[i] if i == j else 0.0) for j in range(len(z))] for i in range(len(z))]
        alarms = {name: (np.zeros(self.n), np.zeros(self.n)) if name in bms_monitoring.ELEMENT_ALARMS else (0.0, 0.0)
                  for name in (*bms_monitoring.PACK_ALARMS, *bms_monitoring.ELEMENT_ALARMS)}
        return {"z": z, "covariance": covariance, "soc_cc": soc.copy(), "alarms": alarms, "rest_s": 0.0,
                "voltage": np.full(self.n, np.nan), "unchanged_s": np.zeros(self.n), "charge_complete": 0.0,
                "candidate": np.zeros(self.n), "bleed": np.zeros(self.n), "bleed_on_s": np.zeros(self.n),
                "capacity_As": np.full(self.n, self.capacity_As),
                "capacity_var": np.full(self.n, (self.params.health.initial_capacity_std * self.capacity_As) ** 2),
                "anchored": 0.0, "anchor_soc": np.zeros(self.n), "anchor_charge_As": np.zeros(self.n),
                "charge_As": np.zeros(self.n), "discharged_As": np.zeros(self.n), "charged_As": np.zeros(self.n)}

    def soc_from_ocv(self, voltage_V: Any, temperature_K: Any) -> np.ndarray:
        """The SoC whose rest voltage (OCV, no RC voltage, no current) is ``voltage_V`` at
        ``temperature_K``, per element (the OCV is increasing in SoC; clipped to [0, 1])."""
        grid = np.linspace(0.0, 1.0, 2001)
        out = np.empty(self.n)
        for e, (v, t) in enumerate(zip(np.broadcast_to(voltage_V, self.n), np.broadcast_to(temperature_K, self.n))):
            x = estimation.cell_state(NUMPY, self.structure, [grid] + [0.0 * grid] * self.structure.n_rc, t)
            ocv = cell.terminal_voltage(NUMPY, self.structure, self.p, x, 0.0 * grid, t)
            if np.any(np.diff(ocv) <= 0):
                raise StateError(f"the cell file's OCV is not increasing in SoC at {t} K: no SoC from the OCV "
                                 "(give estimator.initial_soc, and rest_s long enough only where it is)")
            out[e] = np.interp(v, ocv, grid)
        return out

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
        u["pack_voltage_V"] = float("nan") if pack_voltage_V is None else finite_scalars(
            {"pack_voltage_V": pack_voltage_V})["pack_voltage_V"]
        voltage = self._per_element("element_voltage_V", element_voltage_V, "V")
        temperature = self._per_element("temperature_K", temperature_K, "K")
        st = self.state if self.state is not None else self._initial_state(voltage, temperature)
        filtered, soc_cc, current = self._estimate(st, voltage, temperature, u)
        monitored = self._monitor(st, voltage, temperature, u, filtered)
        health = self._health(st, voltage, temperature, current, u["dt_s"], monitored["rest_s"])
        limits = self._limits(filtered["z"], temperature, monitored["alarms"])
        control = self._control(st, filtered["z"], temperature, u, monitored, limits)
        self.state = {"z": filtered["z"], "covariance": filtered["covariance"], "soc_cc": soc_cc,
                      "alarms": monitored["alarms"], "rest_s": monitored["rest_s"], "voltage": voltage,
                      "unchanged_s": monitored["unchanged_s"], "charge_complete": control["charge_complete"],
                      "candidate": control["candidate"], "bleed": control["bleed"], "bleed_on_s": control["on_s"],
                      **health}
        self.time_s += u["dt_s"]
        return self._outputs(filtered, soc_cc, temperature, monitored, limits, control, health)

    def _estimate(self, st: dict[str, Any], voltage: np.ndarray, temperature: np.ndarray,
                  u: dict[str, float]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """The filter's step, coulomb counting, and each element's current (bleed included)."""
        est = self.params.estimator
        # an element's current: the pack's plus its bleed resistor's (switched over the step as commanded)
        current = u["current_A"] + st["bleed"] * voltage / self.params.balancing.bleed_resistance_ohm
        dt = u["dt_s"]  # the model errors are random walks: their variance grows with the step
        soc_noise = (est.current_noise_A * dt / self.capacity_As) ** 2 + est.soc_process_noise ** 2 * dt
        q = ([np.full(self.n, soc_noise)] + [np.full(self.n, est.rc_process_noise_V ** 2 * dt)] * self.structure.n_rc
             + [np.full(self.n, est.r0_factor_process_noise ** 2 * dt)] * self.adaptive)
        filter_step = estimation.ukf_step if est.method == "ukf" else estimation.ekf_step
        filtered = filter_step(NUMPY, self.transition, self.measurement, st["z"], st["covariance"],
                               {"current_A": current, "temperature_K": temperature, "dt_s": u["dt_s"]}, voltage, q,
                               est.voltage_noise_V ** 2)
        soc_cc = estimation.coulomb_count(st["soc_cc"], current, u["dt_s"], self.capacity_As)
        if not all(np.isfinite(v).all() for v in (*filtered["z"], soc_cc)):
            raise StateError(f"at t = {self.time_s + u['dt_s']} s: the estimate became non-finite")
        return filtered, soc_cc, current

    def _health(self, st: dict[str, Any], voltage: np.ndarray, temperature: np.ndarray, current: np.ndarray,
                dt: float, rest_s: float) -> dict[str, Any]:
        """The capacity estimate (updated from rest to rest) and the charge counters after a step."""
        h = self.params.health
        out = {k: st[k] for k in ("capacity_As", "capacity_var", "anchored", "anchor_soc", "anchor_charge_As")}
        out["charge_As"] = st["charge_As"] + current * dt
        out["discharged_As"] = st["discharged_As"] + np.maximum(current, 0.0) * dt
        out["charged_As"] = st["charged_As"] + np.maximum(-current, 0.0) * dt
        if st["rest_s"] < h.rest_s <= rest_s:  # this rest just became long enough: an SoC from the OCV
            soc = self.soc_from_ocv(voltage, temperature)
            change, charge = soc - st["anchor_soc"], out["charge_As"] - st["anchor_charge_As"]
            relaxed = st["bleed"] < 0.5  # an element whose bleed resistor loads it is not at rest
            measured = -charge / np.where(np.abs(change) > 0, change, np.inf)
            plausible = np.abs(measured - st["capacity_As"]) < MAX_CAPACITY_STEP * st["capacity_As"]
            update = st["anchored"] * relaxed * plausible * (np.abs(change) >= h.min_soc_change)
            capacity, variance = bms_health.rls_capacity(NUMPY, st["capacity_As"], st["capacity_var"], change, charge,
                                                         h.forgetting, update)
            out["capacity_As"] = np.clip(capacity, CAPACITY_RANGE[0] * self.capacity_As,
                                         CAPACITY_RANGE[1] * self.capacity_As)
            out["capacity_var"] = variance
            out.update(anchored=1.0, anchor_soc=np.where(relaxed, soc, st["anchor_soc"]),
                       anchor_charge_As=np.where(relaxed, out["charge_As"], st["anchor_charge_As"]))
        return out

    def _monitor(self, st: dict[str, Any], voltage: np.ndarray, temperature: np.ndarray, u: dict[str, float],
                 filtered: dict[str, Any]) -> dict[str, Any]:
        """The debounced alarms, the stuck-reading timers and the rest time after the step."""
        mon = self.params.monitoring
        at_rest = abs(u["current_A"]) <= mon.rest_c_rate * self.capacity_As / 3600.0
        unchanged = bms_monitoring.unchanged_time(NUMPY, voltage, st["voltage"], st["unchanged_s"],
                                                  0.0 if at_rest else 1.0, u["dt_s"], mon.stuck_resolution_V)
        found = bms_monitoring.conditions(NUMPY, voltage, temperature, u["current_A"], u["pack_voltage_V"],
                                          filtered["innovation_V"], filtered["innovation_variance_V2"], unchanged,
                                          self.monitor_settings)
        alarms = {name: bms_monitoring.debounce(NUMPY, found[name], *st["alarms"][name], u["dt_s"], mon.debounce_s)
                  for name in st["alarms"]}
        return {"alarms": alarms, "unchanged_s": unchanged, "at_rest": at_rest, "voltage": voltage,
                "rest_s": st["rest_s"] + u["dt_s"] if at_rest else 0.0,
                "alarm": max(float(np.max(flag)) for _, flag in alarms.values())}

    def _limits(self, z: list[Any], temperature: np.ndarray, alarms: dict[str, Any]) -> dict[str, Any]:
        """The current limits, zero in a direction a raised alarm stops."""
        limits = bms_limits.current_limits(NUMPY, self.horizon_voltage, z, temperature, self.limit_settings)
        for direction, stops in (("charge", bms_monitoring.STOPS_CHARGE),
                                 ("discharge", bms_monitoring.STOPS_DISCHARGE)):
            if max(float(np.max(alarms[name][1])) for name in stops) > 0.5:
                limits[f"pack_{direction}_A"] = 0.0
                limits[f"{direction}_A"] = 0.0 * limits[f"{direction}_A"]
        return limits

    def _control(self, st: dict[str, Any], z: list[Any], temperature: np.ndarray, u: dict[str, float],
                 monitored: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
        """The charge request and the bleed switches of a step, from the new estimate."""
        ch, bal = self.params.charge, self.params.balancing
        one_c = self.capacity_As / 3600.0
        cv_current = np.inf  # no charger: no request, whatever the CV current (not computed)
        if u["charger_connected"]:
            cv, _ = bms_limits.voltage_limited_current(NUMPY, self.horizon_voltage, z, temperature, u["dt_s"],
                                                       ch.cv_voltage_V)
            cv_current = float(np.min(-cv))
        request, complete = bms_control.charge_request(
            NUMPY, u["charger_connected"], st["charge_complete"], ch.cc_c_rate * one_c, limits["pack_charge_A"],
            cv_current, ch.termination_c_rate * one_c)
        soc, alarm = z[0], monitored["alarm"]
        allowed = float(monitored["at_rest"] or (u["current_A"] < 0 and float(np.mean(soc)) > bal.charge_soc_min))
        balance = bms_control.balancing(NUMPY, soc, st["candidate"], st["bleed"], st["bleed_on_s"],
                                        allowed * (1.0 - alarm), u["dt_s"], bal.model_dump())
        return {"request_A": float(request), "charge_complete": float(complete), **balance}

    def _outputs(self, filtered: dict[str, Any], soc_cc: np.ndarray, temperature: np.ndarray,
                 monitored: dict[str, Any], limits: dict[str, Any], control: dict[str, Any],
                 health: dict[str, Any]) -> dict[str, Any]:
        z, est = filtered["z"], self.params.estimator
        capacity = health["capacity_As"]
        ocv = self.structure.tables["ocv_V"], self.p["ocv_V"]
        mean_to = mean_over_soc(NUMPY, *ocv, 0.0 * z[0], np.clip(z[0], 0.0, 1.0), temperature, "ocv_V")
        mean_full = mean_over_soc(NUMPY, *ocv, 0.0 * z[0], 1.0 + 0.0 * z[0], temperature, "ocv_V")
        soe = bms_health.energy_fraction(NUMPY, mean_to, np.clip(z[0], 0.0, 1.0), mean_full)
        full = capacity * mean_full  # the energy [J] each element holds when full
        energy = soe * full
        cycle_capacity = capacity if self.params.health.compensate_cycles else self.capacity_As
        soc_std = np.sqrt(np.maximum(filtered["covariance"][0][0], 0.0))
        high, low = int(np.argmax(z[0])), int(np.argmin(z[0]))
        soc = z[0]
        r0_factor = z[-1] if self.adaptive else np.ones(self.n)
        eol = est.eol_resistance_factor
        power = bms_limits.power_limits(NUMPY, self.horizon_voltage, z, temperature, self.limit_settings["horizon_s"],
                                        limits["pack_discharge_A"], limits["pack_charge_A"])
        flags = {f"alarm_{name}": (flag if name in bms_monitoring.ELEMENT_ALARMS else float(flag))
                 for name, (_, flag) in monitored["alarms"].items()}
        return {
            "soc": soc, "soc_std": soc_std,
            # imbalance: the spread of the estimates, with its standard deviation (the two ends' independent)
            "soc_spread": float(soc[high] - soc[low]), "soc_spread_std": float(np.hypot(soc_std[high], soc_std[low])),
            "voltage_spread_V": float(np.ptp(monitored["voltage"])),
            "soc_coulomb_counting": soc_cc, "predicted_voltage_V": filtered["voltage_V"],
            "innovation_V": filtered["innovation_V"], "r0_factor": r0_factor,
            "soh_resistance": (eol - r0_factor) / (eol - 1.0),
            "pack_soc_min": float(soc.min()), "pack_soc_max": float(soc.max()), "pack_soc_mean": float(soc.mean()),
            "pack_soc_usable": usable_soc(soc),
            "discharge_current_limit_A": float(limits["pack_discharge_A"]),
            "charge_current_limit_A": float(limits["pack_charge_A"]),
            "discharge_power_limit_W": float(power["discharge_W"]), "charge_power_limit_W": float(power["charge_W"]),
            "element_discharge_current_limit_A": limits["discharge_A"],
            "element_charge_current_limit_A": limits["charge_A"],
            **flags, "alarm_any": monitored["alarm"], "rest_time_s": monitored["rest_s"],
            "charge_current_request_A": control["request_A"], "charge_complete": control["charge_complete"],
            "bleed": control["bleed"], "balancing_candidate": control["candidate"],
            "capacity_As": capacity, "soh_capacity": capacity / self.capacity_As, "capacity_std_As":
            np.sqrt(np.maximum(health["capacity_var"], 0.0)), "soe": soe,
            "pack_energy_J": float(energy.sum()), "pack_soe": float(energy.sum() / full.sum()),
            "equivalent_full_cycles": float(np.mean(health["discharged_As"] / cycle_capacity)),
            "coulombic_efficiency": float(health["discharged_As"].sum() / health["charged_As"].sum())
            if health["charged_As"].sum() > 0 else 1.0}

    def run(self, time_s: Any, current_A: Any, element_voltage_V: Any, temperature_K: Any,
            pack_voltage_V: Any = None) -> dict[str, np.ndarray]:
        """Step through logged measurements: ``current_A[k]`` held over ``[t_k, t_k+1]``,
        ``element_voltage_V[k]`` and ``temperature_K[k]`` (one row of elements) and
        ``pack_voltage_V[k]`` (optional) at ``t_k+1``."""
        profile = {"current_A": current_A, "element_voltage_V": element_voltage_V, "temperature_K": temperature_K}
        if pack_voltage_V is not None:
            profile["pack_voltage_V"] = pack_voltage_V
        return run_profile(self.step, time_s, profile, {})
