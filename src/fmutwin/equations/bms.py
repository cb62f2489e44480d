"""The BMS's whole step over ``ops``: what the numpy BMS twin, its Python FMUs and its native
(generated C) FMUs all run, from this one text.

A step takes what a BMS measures over a communication step (the series elements' voltages and
temperatures at its end, the pack current held over it, positive = discharge, the pack voltage,
whether a charger is connected) and, in this order (each part's equations in its own module):

1. the first step starts the estimate: SoC from the OCV of the first measured voltages (the pack
   at rest at start-up) or the configured guess (:func:`soc_from_ocv`);
2. SoC estimation per element (:mod:`fmutwin.equations.bms_estimation`) and coulomb counting,
   with each element's current the pack's plus its bleed resistor's;
3. monitoring (:mod:`fmutwin.equations.bms_monitoring`): debounced alarms, stuck and
   implausible sensors, rest time;
4. health (:mod:`fmutwin.equations.bms_health`): charge counters and, when a rest has just
   become long enough, the SoC from the OCV (an output) and the capacity estimate from the SoC
   change since the previous rest;
5. current limits (:mod:`fmutwin.equations.bms_limits`), zero in a direction a raised alarm
   stops;
6. control (:mod:`fmutwin.equations.bms_control`): the CC-CV charge request and the bleed
   switches;
7. outputs: pack SoC figures, imbalance, power limits, SoH, state of energy, cycle counting.

Per-element work goes through :meth:`Ops.map_cells` (numpy: all elements at once; generated C:
one function body called per element); what only a rare step needs (the first step's start, the
SoC from the OCV at a rest, the CV current while a charger is connected) goes through
:meth:`Ops.unless`, so neither numpy nor generated C computes it on the other steps. Python
branches only on the static structure (the filter, the number of elements and RC branches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from fmutwin.equations import bms_control, bms_estimation as estimation, bms_health, bms_limits, bms_monitoring
from fmutwin.equations import cell
from fmutwin.equations.cell import CellStructure
from fmutwin.equations.tables import mean_over_soc
from fmutwin.ops import Ops

#: the capacity estimate stays within this range of the cell file's, and a measurement more than
#: MAX_CAPACITY_STEP (relative) from the estimate is an outlier (a bad OCV reading), not used
CAPACITY_RANGE = (0.3, 1.5)
MAX_CAPACITY_STEP = 0.5
#: bisections of [0, 1] for the SoC of a rest voltage (2^-40: the OCV's own precision)
OCV_BISECTIONS = 40
#: state entries of one value per element, beside the filter's z and covariance and the element alarms
ELEMENT_STATE = ("soc_cc", "voltage", "unchanged_s", "candidate", "bleed", "bleed_on_s", "capacity_As",
                 "capacity_var", "anchor_soc", "anchor_charge_As", "charge_As", "discharged_As", "charged_As",
                 "hysteresis_sign", "unloaded_voltage")
#: state entries of one value for the pack, beside the pack alarms
PACK_STATE = ("time_s", "started", "rest_s", "charge_complete", "anchored", "feedback_discharge", "feedback_charge")
ALARMS = (*bms_monitoring.PACK_ALARMS, *bms_monitoring.ELEMENT_ALARMS)


@dataclass(frozen=True)
class BmsStructure:
    """What is fixed when a BMS is built: the estimator's cell structure, the number of series
    elements and the filter (``ekf``, ``ukf`` or ``adaptive``)."""

    cell: CellStructure
    n: int
    method: str
    #: numpy: the filter model of the parameter tree last seen (its linearisations are made once
    #: per model function, so a step must not make new ones)
    _models: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @property
    def adaptive(self) -> bool:
        return self.method == "adaptive"

    @property
    def n_z(self) -> int:
        """Entries of the filter's state per element."""
        return len(estimation.state_names(self.cell, self.adaptive))

    def element_state(self) -> list[str]:
        """The state entries that are one array over the elements."""
        n_z = self.n_z
        return ([f"z{k}" for k in range(n_z)] + [f"covariance{i}_{j}" for i in range(n_z) for j in range(n_z)]
                + list(ELEMENT_STATE)
                + [f"alarm_{kind}_{name}" for name in bms_monitoring.ELEMENT_ALARMS for kind in ("timer", "flag")])

    def pack_state(self) -> list[str]:
        """The state entries that are one number for the pack."""
        return list(PACK_STATE) + [f"alarm_{kind}_{name}" for name in bms_monitoring.PACK_ALARMS
                                   for kind in ("timer", "flag")]

    def state_names(self) -> list[str]:
        """The flat state: pack numbers, then ``name[k]`` for every element array."""
        return self.pack_state() + [f"{name}[{k}]" for name in self.element_state() for k in range(self.n)]

    def input_names(self) -> tuple[str, ...]:
        return (*(f"element_voltage_V[{k}]" for k in range(self.n)), *(f"temperature_K[{k}]" for k in range(self.n)),
                "current_A", "pack_voltage_V", "charger_connected", "dt_s")


def models(s: BmsStructure, p: dict[str, Any]) -> tuple[Callable[..., list[Any]], ...]:
    """(transition, measurement, horizon voltage) of the filter for the parameters ``p``: made
    once per parameter tree (numpy keeps their compiled linearisations)."""
    cell_p = p["cell"]
    hit = s._models.get(id(cell_p))
    if hit is not None and hit[0] is cell_p:
        return hit[1]
    transition, measurement = estimation.model(s.cell, cell_p, s.adaptive)
    made = (transition, measurement, bms_limits.horizon_voltage(transition, measurement, s.n_z))
    s._models.clear()
    s._models[id(cell_p)] = (cell_p, made)
    return made


def rest_voltage(ops: Ops, s: BmsStructure, p: dict[str, Any], soc: Any, temperature_K: Any) -> Any:
    """An element's terminal voltage at rest (no current, no RC voltage): its OCV."""
    zero = 0.0 * soc
    x = estimation.cell_state(ops, s.cell, [soc] + [zero] * s.cell.n_rc, temperature_K)
    return cell.terminal_voltage(ops, s.cell, p["cell"], x, zero, temperature_K)


def soc_from_ocv(ops: Ops, s: BmsStructure, p: dict[str, Any], voltage_V: Any, temperature_K: Any) -> Any:
    """Per element, the SoC in [0, 1] whose rest voltage is ``voltage_V`` (the OCV increases in
    SoC; a voltage beyond its range gives 0 or 1), by bisection."""

    def one(c: dict[str, Any]) -> Any:
        low, high = 0.0 * c["v"], 1.0 + 0.0 * c["v"]
        for _ in range(OCV_BISECTIONS):
            mid = 0.5 * (low + high)
            above = ops.where(rest_voltage(ops, s, p, mid, c["t"]) > c["v"], 1.0, 0.0)
            low, high = ops.where(above > 0.5, low, mid), ops.where(above > 0.5, mid, high)
        return 0.5 * (low + high)

    return ops.map_cells(one, s.n, {"v": voltage_V, "t": temperature_K})


def initial_state(ops: Ops, s: BmsStructure, p: dict[str, Any]) -> dict[str, Any]:
    """The state before the first step: nothing started (the first step starts the estimate
    from its measurements)."""
    zeros = ops.cell_array([0.0] * s.n)
    return {**{name: 0.0 for name in s.pack_state()}, **{name: zeros for name in s.element_state()}}


def _started(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any], voltage: Any,
             temperature: Any) -> dict[str, Any]:
    """The state at the start of the first step: the SoC guess (from the OCV where configured),
    its covariance, the capacity of the cell file, every timer, switch and counter at zero."""
    est, n_rc = p["estimator"], s.cell.n_rc
    zero = 0.0 * voltage
    soc = ops.unless(1.0 - est["soc_from_ocv"], est["initial_soc"] + zero,
                     lambda kept, c: soc_from_ocv(ops, s, p, c["v"], c["t"]), {"v": voltage, "t": temperature})
    hysteresis, concentration = int(s.cell.hysteresis), int(s.cell.concentration)
    z = [soc] + [zero] * (n_rc + hysteresis + concentration) + [1.0 + zero] * s.adaptive
    variances = ([est["initial_soc_std"] ** 2] + [est["rc_process_noise_V"] ** 2] * n_rc
                 + [est["hysteresis_std"] ** 2] * hysteresis + [estimation.CONCENTRATION_STD ** 2] * concentration
                 + [est["r0_factor_std"] ** 2] * s.adaptive)
    out = dict(x)
    out.update({name: 0.0 * x[name] for name in (*s.pack_state(), *s.element_state())})
    out.update({f"z{k}": v for k, v in enumerate(z)})
    out.update({f"covariance{i}_{i}": variances[i] + zero for i in range(len(z))})
    capacity = p["capacity_As"]
    out.update(time_s=x["time_s"], feedback_discharge=1.0 + 0.0 * x["time_s"], feedback_charge=1.0 + 0.0 * x["time_s"],
               soc_cc=soc, voltage=voltage, anchor_soc=soc, capacity_As=capacity + zero,
               capacity_var=(p["health"]["initial_capacity_std"] * capacity) ** 2 + zero)
    return out


def _with_sign(cells: dict[str, Any], sign: Any) -> dict[str, Any]:
    """Per-element entries for :meth:`Ops.map_cells`, with the hysteresis sign where there is one."""
    return cells if sign is None else {**cells, "sign": sign}


def _model_input(c: dict[str, Any], current: Any, dt: Any) -> dict[str, Any]:
    """The filter model's input ``u`` for one element's entries ``c`` (its temperature ``t`` and,
    for a cell with hysteresis, its ``sign``) at a current over a step of ``dt``."""
    u = {"current_A": current, "temperature_K": c["t"], "dt_s": dt}
    return u if "sign" not in c else {**u, "hysteresis_sign": c["sign"]}


def _estimate(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any],
              current: Any, sign: Any) -> dict[str, Any]:
    """The filter's step of every element (``current``: each element's, bleed included; ``sign``:
    the hysteresis sign after the step, None without hysteresis)."""
    est, dt = p["estimator"], u["dt_s"]
    transition, measurement, _ = models(s, p)
    soc_noise = (est["current_noise_A"] * dt / p["capacity_As"]) ** 2 + est["soc_process_noise"] ** 2 * dt
    q = ([soc_noise] + [est["rc_process_noise_V"] ** 2 * dt] * s.cell.n_rc
         + [est["hysteresis_process_noise"] ** 2 * dt] * int(s.cell.hysteresis)
         + [estimation.CONCENTRATION_PROCESS_NOISE ** 2 * dt] * int(s.cell.concentration)
         + [est["r0_factor_process_noise"] ** 2 * dt] * s.adaptive)
    filter_step = estimation.ukf_step if s.method == "ukf" else estimation.ekf_step
    n_z = s.n_z

    def one(c: dict[str, Any]) -> dict[str, Any]:
        return filter_step(ops, transition, measurement, c["z"], c["covariance"], _model_input(c, c["i"], dt), c["v"],
                           q, est["voltage_noise_V"] ** 2)

    return ops.map_cells(one, s.n, _with_sign({
        "z": [x[f"z{k}"] for k in range(n_z)],
        "covariance": [[x[f"covariance{i}_{j}"] for j in range(n_z)] for i in range(n_z)],
        "i": current, "t": u["temperature_K"], "v": u["element_voltage_V"]}, sign))


def _monitor(ops: Ops, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any], was_started: Any,
             filtered: dict[str, Any]) -> dict[str, Any]:
    """The debounced alarms, the stuck-reading timers and the rest time after the step."""
    mon, dt, voltage = p["monitoring"], u["dt_s"], u["element_voltage_V"]
    at_rest = ops.where(ops.fabs(u["current_A"]) <= mon["rest_current_A"], 1.0, 0.0)
    unchanged = was_started * bms_monitoring.unchanged_time(ops, voltage, x["voltage"], x["unchanged_s"],
                                                            1.0 - at_rest, dt, mon["stuck_resolution_V"])
    found = bms_monitoring.conditions(ops, voltage, u["temperature_K"], u["current_A"], u["pack_voltage_V"],
                                      p["pack_voltage_measured"], filtered["innovation_V"],
                                      filtered["innovation_variance_V2"], unchanged, mon)
    alarms = {name: bms_monitoring.debounce(ops, found[name], x[f"alarm_timer_{name}"], x[f"alarm_flag_{name}"],
                                            dt, mon["debounce_s"]) for name in ALARMS}
    any_alarm = 0.0
    for _, flag in alarms.values():
        any_alarm = ops.fmax(any_alarm, ops.largest(flag))
    return {"alarms": alarms, "unchanged_s": unchanged, "at_rest": at_rest, "alarm": any_alarm,
            "rest_s": at_rest * (x["rest_s"] + dt)}


def _health(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any], current: Any,
            rest_s: Any) -> dict[str, Any]:
    """The charge counters after the step and the capacity estimate, updated when a rest has
    just become long enough (the SoC from the OCV then is a measurement, from rest to rest)."""
    h, dt = p["health"], u["dt_s"]
    out = {"charge_As": x["charge_As"] + current * dt,
           "discharged_As": x["discharged_As"] + ops.fmax(current, 0.0) * dt,
           "charged_As": x["charged_As"] + ops.fmax(-current, 0.0) * dt}
    rested = ops.where(x["rest_s"] < h["rest_s"], 1.0, 0.0) * ops.where(rest_s >= h["rest_s"], 1.0, 0.0)
    capacity_0 = p["capacity_As"]

    def anchor(kept: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
        soc = soc_from_ocv(ops, s, p, c["v"], c["t"])
        change, charge = soc - kept["anchor_soc"], c["charge"] - kept["anchor_charge_As"]
        relaxed = ops.where(c["bleed"] < 0.5, 1.0, 0.0)  # an element its bleed resistor loads is not at rest
        moved = ops.where(ops.fabs(change) > 0.0, 1.0, 0.0)
        measured = moved * -charge / ops.where(moved > 0.5, change, 1.0)
        plausible = ops.where(ops.fabs(measured - kept["capacity_As"]) < MAX_CAPACITY_STEP * kept["capacity_As"],
                              1.0, 0.0)
        update = (kept["anchored"] * relaxed * plausible * moved
                  * ops.where(ops.fabs(change) >= h["min_soc_change"], 1.0, 0.0))
        capacity, variance = bms_health.rls_capacity(ops, kept["capacity_As"], kept["capacity_var"], change, charge,
                                                     h["forgetting"], update)
        return {"capacity_As": ops.clip(capacity, CAPACITY_RANGE[0] * capacity_0, CAPACITY_RANGE[1] * capacity_0),
                "capacity_var": variance, "anchored": 1.0 + 0.0 * kept["anchored"],
                "anchor_soc": ops.where(relaxed > 0.5, soc, kept["anchor_soc"]),
                "anchor_charge_As": ops.where(relaxed > 0.5, c["charge"], kept["anchor_charge_As"])}

    kept = {k: x[k] for k in ("capacity_As", "capacity_var", "anchored", "anchor_soc", "anchor_charge_As")}
    out.update(ops.unless(1.0 - rested, kept, anchor, {"v": u["element_voltage_V"], "t": u["temperature_K"],
                                                       "charge": out["charge_As"], "bleed": x["bleed"]}))
    return out


def _limits(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any], z: list[Any],
            sign: Any, current: Any, was_started: Any, alarms: dict[str, Any]) -> dict[str, Any]:
    """The current limits, derated by the voltage feedback and zero in a direction a raised alarm
    stops; the feedback's new factors and each element's unloaded voltage.

    The feedback extrapolates each measured voltage by the trend of its *unloaded* voltage: the
    measurement plus the instantaneous drop the filter's model gives at the element's current
    (R0, charge transfer), so that a change of current, a step of the voltage, is not taken for
    a trend (none on the first step)."""
    lim, temperature, voltage, dt = p["limits"], u["temperature_K"], u["element_voltage_V"], u["dt_s"]
    _, measurement, horizon = models(s, p)

    def unloaded(c: dict[str, Any]) -> Any:
        drop = (measurement(ops, c["z"], _model_input(c, 0.0 * c["i"], dt))[0]
                - measurement(ops, c["z"], _model_input(c, c["i"], dt))[0])
        return c["v"] + drop

    unloaded_V = ops.map_cells(unloaded, s.n, _with_sign({"z": z, "t": temperature, "i": current, "v": voltage}, sign))
    trend = was_started * (unloaded_V - x["unloaded_voltage"]) / dt
    predicted = voltage + trend * lim["feedback_lookahead_s"]
    factors = {"discharge": bms_limits.feedback_factor(ops, x["feedback_discharge"],
                                                       ops.smallest(predicted) - lim["min_voltage_V"], dt, lim),
               "charge": bms_limits.feedback_factor(ops, x["feedback_charge"],
                                                    lim["max_voltage_V"] - ops.largest(predicted), dt, lim)}
    per_element = ops.map_cells(lambda c: bms_limits.element_limits(ops, horizon, c["z"], c["t"], p["limits"],
                                                                    c.get("sign")),
                                s.n, _with_sign({"z": z, "t": temperature}, sign))
    out = {"discharge_A": per_element["discharge_A"], "charge_A": per_element["charge_A"],
           "feedback_discharge": factors["discharge"], "feedback_charge": factors["charge"],
           "unloaded_voltage": unloaded_V}
    for direction, stops in (("charge", bms_monitoring.STOPS_CHARGE), ("discharge", bms_monitoring.STOPS_DISCHARGE)):
        stopped = 0.0
        for name in stops:
            stopped = ops.fmax(stopped, ops.largest(alarms[name][1]))
        keep = ops.where(stopped > 0.5, 0.0, 1.0) * factors[direction]
        out[f"{direction}_A"] = keep * out[f"{direction}_A"]
        out[f"pack_{direction}_A"] = keep * ops.smallest(per_element[f"{direction}_A"])
    return out


def _control(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any], z: list[Any], sign: Any,
             u: dict[str, Any], monitored: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """The charge request and the bleed switches of the step, from the new estimate."""
    ch, bal = p["charge"], p["balancing"]
    connected = u["charger_connected"]
    horizon = models(s, p)[2]

    def cv(kept: Any, c: dict[str, Any]) -> Any:  # the current that holds each element at the CV voltage
        return ops.map_cells(lambda e: bms_limits.voltage_limited_current(ops, horizon, e["z"], e["t"], c["dt"],
                                                                          ch["cv_voltage_V"], e.get("sign"))[0],
                             s.n, _with_sign({"z": c["z"], "t": c["t"]}, c.get("sign")))

    # without a charger nothing is asked, whatever the CV current: it is not computed
    cv_current = ops.smallest(-ops.unless(1.0 - connected, 0.0 * z[0], cv,
                                          _with_sign({"z": z, "t": u["temperature_K"], "dt": u["dt_s"]}, sign)))
    request, complete = bms_control.charge_request(ops, connected, x["charge_complete"], ch["cc_current_A"],
                                                   limits["pack_charge_A"], cv_current, ch["termination_current_A"])
    charging_high = (ops.where(u["current_A"] < 0.0, 1.0, 0.0)
                     * ops.where(ops.total(z[0]) / s.n > bal["charge_soc_min"], 1.0, 0.0))
    allowed = ops.fmax(monitored["at_rest"], charging_high) * (1.0 - monitored["alarm"])
    balance = bms_control.balancing(ops, z[0], x["candidate"], x["bleed"], x["bleed_on_s"], allowed, u["dt_s"], bal)
    return {"request_A": request, "charge_complete": complete, **balance}


def usable_soc(ops: Ops, soc: Any) -> Any:
    """The pack SoC that respects the weakest element: 0 when the lowest element is empty, 1 when
    the highest is full, min / (min + 1 - max) between (Plett, Battery Management Systems II)."""
    low, high = ops.clip(ops.smallest(soc), 0.0, 1.0), ops.clip(ops.largest(soc), 0.0, 1.0)
    return low / ops.fmax(low + 1.0 - high, 1e-12)


def _at_extreme(ops: Ops, soc: Any, extreme: Any, values: Any) -> Any:
    """The mean of ``values`` over the elements whose SoC is ``extreme`` (the highest or lowest)."""
    at = ops.where(soc == extreme, 1.0, 0.0)
    return ops.total(at * values) / ops.total(at)


def _outputs(ops: Ops, s: BmsStructure, p: dict[str, Any], u: dict[str, Any], filtered: dict[str, Any],
             sign: Any, soc_cc: Any, monitored: dict[str, Any], limits: dict[str, Any], control: dict[str, Any],
             health: dict[str, Any]) -> dict[str, Any]:
    z, est, capacity_0 = filtered["z"], p["estimator"], p["capacity_As"]
    soc, temperature, capacity = z[0], u["temperature_K"], health["capacity_As"]
    horizon = models(s, p)[2]
    table = s.cell.tables["ocv_V"], p["cell"]["ocv_V"]

    def one(c: dict[str, Any]) -> dict[str, Any]:
        zero = 0.0 * c["z"][0]
        clipped = ops.clip(c["z"][0], 0.0, 1.0)
        to_soc = mean_over_soc(ops, *table, zero, clipped, c["t"], "ocv_V")
        full = mean_over_soc(ops, *table, zero, 1.0 + zero, c["t"], "ocv_V")
        args = bms_limits.horizon_args(c["z"], c["t"], p["limits"]["horizon_s"], c.get("sign"))
        (v_discharge,), _ = ops.linearise(horizon, [c["discharge_A"] + zero], args)
        (v_charge,), _ = ops.linearise(horizon, [-c["charge_A"] + zero], args)
        return {"soe": bms_health.energy_fraction(ops, to_soc, clipped, full), "mean_full_V": full,
                "v_discharge": v_discharge, "v_charge": v_charge}

    # the pack's limits as shared entries: read from the closure, generated code would recompute
    # them (from every element) inside each element's call
    element = ops.map_cells(one, s.n, _with_sign({"z": z, "t": temperature, "discharge_A": limits["pack_discharge_A"],
                                                  "charge_A": limits["pack_charge_A"]}, sign))
    full = capacity * element["mean_full_V"]  # the energy [J] each element holds when full
    energy = element["soe"] * full
    cycle_capacity = ops.where(p["health"]["compensate_cycles"] > 0.5, capacity, capacity_0 + 0.0 * capacity)
    soc_std = ops.sqrt(ops.fmax(filtered["covariance"][0][0], 0.0))
    high, low = ops.largest(soc), ops.smallest(soc)
    r0_factor = z[-1] if s.adaptive else 1.0 + 0.0 * soc
    eol = est["eol_resistance_factor"]
    charged = ops.total(health["charged_As"])
    return {
        "soc": soc, "soc_std": soc_std,
        # imbalance: the spread of the estimates, with its standard deviation (the two ends' independent)
        "soc_spread": high - low,
        "soc_spread_std": ops.sqrt(_at_extreme(ops, soc, high, soc_std) ** 2 + _at_extreme(ops, soc, low, soc_std) ** 2),
        "voltage_spread_V": ops.largest(u["element_voltage_V"]) - ops.smallest(u["element_voltage_V"]),
        "soc_coulomb_counting": soc_cc, "predicted_voltage_V": filtered["voltage_V"],
        "innovation_V": filtered["innovation_V"], "r0_factor": r0_factor,
        "soh_resistance": (eol - r0_factor) / (eol - 1.0),
        "pack_soc_min": low, "pack_soc_max": high, "pack_soc_mean": ops.total(soc) / s.n,
        "pack_soc_usable": usable_soc(ops, soc),
        "discharge_current_limit_A": limits["pack_discharge_A"], "charge_current_limit_A": limits["pack_charge_A"],
        "discharge_feedback_factor": limits["feedback_discharge"], "charge_feedback_factor": limits["feedback_charge"],
        "discharge_power_limit_W": limits["pack_discharge_A"] * ops.total(element["v_discharge"]),
        "charge_power_limit_W": limits["pack_charge_A"] * ops.total(element["v_charge"]),
        "element_discharge_current_limit_A": limits["discharge_A"], "element_charge_current_limit_A": limits["charge_A"],
        **{f"alarm_{name}": flag for name, (_, flag) in monitored["alarms"].items()},
        "alarm_any": monitored["alarm"], "rest_time_s": monitored["rest_s"],
        "charge_current_request_A": control["request_A"], "charge_complete": control["charge_complete"],
        "bleed": control["bleed"], "balancing_candidate": control["candidate"],
        "rest_soc": health["anchor_soc"], "capacity_As": capacity, "soh_capacity": capacity / capacity_0,
        "capacity_std_As": ops.sqrt(ops.fmax(health["capacity_var"], 0.0)), "soe": element["soe"],
        "pack_energy_J": ops.total(energy), "pack_soe": ops.total(energy) / ops.total(full),
        "equivalent_full_cycles": ops.total(health["discharged_As"] / cycle_capacity) / s.n,
        "coulombic_efficiency": ops.where(charged > 0.0, ops.total(health["discharged_As"]) / ops.fmax(charged, 1e-300),
                                          1.0)}


def step(ops: Ops, s: BmsStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One BMS step (see the module docstring): ``u`` holds ``element_voltage_V`` and
    ``temperature_K`` (arrays over the elements, measured at the step's end), ``current_A``
    (held over the step, positive = discharge), ``pack_voltage_V`` (read where
    ``p["pack_voltage_measured"]``), ``charger_connected`` (0/1) and ``dt_s``."""
    voltage, temperature = u["element_voltage_V"], u["temperature_K"]
    was_started = x["started"]
    x = ops.unless(was_started, x, lambda kept, c: _started(ops, s, p, kept, c["v"], c["t"]),
                   {"v": voltage, "t": temperature})
    # an element's current: the pack's plus its bleed resistor's (switched over the step as commanded)
    current = u["current_A"] + x["bleed"] * voltage / p["balancing"]["bleed_resistance_ohm"]
    sign = estimation.hysteresis_sign(ops, x["hysteresis_sign"], current)
    known_sign = sign if s.cell.hysteresis else None  # what the models read: a cell with hysteresis
    filtered = _estimate(ops, s, p, x, u, current, known_sign)
    soc_cc = estimation.coulomb_count(x["soc_cc"], current, u["dt_s"], p["capacity_As"])
    monitored = _monitor(ops, p, x, u, was_started, filtered)
    health = _health(ops, s, p, x, u, current, monitored["rest_s"])
    limits = _limits(ops, s, p, x, u, filtered["z"], known_sign, current, was_started, monitored["alarms"])
    control = _control(ops, s, p, x, filtered["z"], known_sign, u, monitored, limits)
    n_z = s.n_z
    x_next = {"time_s": x["time_s"] + u["dt_s"], "started": 1.0 + 0.0 * was_started,
              **{f"z{k}": filtered["z"][k] for k in range(n_z)},
              **{f"covariance{i}_{j}": filtered["covariance"][i][j] for i in range(n_z) for j in range(n_z)},
              "soc_cc": soc_cc, "voltage": voltage, "unchanged_s": monitored["unchanged_s"], "hysteresis_sign": sign,
              "rest_s": monitored["rest_s"], "charge_complete": control["charge_complete"],
              "feedback_discharge": limits["feedback_discharge"], "feedback_charge": limits["feedback_charge"],
              "unloaded_voltage": limits["unloaded_voltage"],
              "candidate": control["candidate"], "bleed": control["bleed"], "bleed_on_s": control["on_s"], **health}
    for name, (timer, flag) in monitored["alarms"].items():
        x_next[f"alarm_timer_{name}"], x_next[f"alarm_flag_{name}"] = timer, flag
    return x_next, _outputs(ops, s, p, u, filtered, known_sign, soc_cc, monitored, limits, control, health)
