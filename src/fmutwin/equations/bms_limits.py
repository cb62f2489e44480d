"""Current and power limits of a pack of series elements, from the estimator's state.

The voltage-limited current of an element is the constant current that brings its terminal
voltage to the limit at the end of a horizon (default 10 s), with the element's estimated state
(SoC, RC voltages, R0 factor) and the cell equations over that horizon (the filter's own
transition and measurement: exact RC response, the OCV over the SoC the current moves through).
It is found by Newton's method on that voltage as a function of the current, with its derivative
from CasADi's automatic differentiation (:meth:`Ops.linearise`), from zero current (4 iterations;
the voltage is nearly affine in the current); one that does not bring the voltage within
0.1 mV of the limit (or is NaN) counts as zero, the safe side.

A limit is the smallest of: that current, the rated current times the temperature derating
factor, and zero outside the SoC window (no discharge at or below its lower end, no charge at or
above its upper end); the pack's is the weakest element's. With voltage feedback the limits are
then multiplied by a derating factor in [0, 1] per direction, driven by the measured voltages
(:func:`feedback_factor`): the model's own limit is only as good as the model, and near the
voltage limits a cell can fall faster than any model fitted away from them predicts (a DFN cell
at 3C below SoC 0.3: 40-70 mV per second at the knee). Power limits are the limit current
times the pack voltage that current gives at the end of the horizon. Currents are magnitudes
here: the discharge limit is the largest positive (discharge) current, the charge limit the
largest charge current.
"""

from __future__ import annotations

from typing import Any, Callable

from fmutwin.equations.bms_estimation import hysteresis_sign
from fmutwin.ops import Ops

NEWTON_ITERATIONS = 4
#: a voltage-limited current is taken once it brings the voltage this close to the limit [V]
SOLVED_V = 1e-4


def horizon_voltage(transition: Callable[..., list[Any]], measurement: Callable[..., list[Any]],
                    n_z: int) -> Callable[..., list[Any]]:
    """``fn(ops, [current], args)`` -> [terminal voltage after a horizon at that current], for
    :meth:`Ops.linearise`; ``args`` holds the state as ``z0..z<n_z-1>``, ``temperature_K``, the
    horizon as ``dt_s`` and, for a cell with hysteresis, the ``hysteresis_sign`` now (a non-zero
    current sets its own). Make it once per filter model (its linearisation is made once)."""

    def fn(ops: Ops, x: list[Any], args: dict[str, Any]) -> list[Any]:
        z = [args[f"z{k}"] for k in range(n_z)]
        u = {"current_A": x[0] + 0.0 * z[0], "temperature_K": args["temperature_K"], "dt_s": args["dt_s"]}
        if "hysteresis_sign" in args:
            u["hysteresis_sign"] = hysteresis_sign(ops, args["hysteresis_sign"], u["current_A"])
        return measurement(ops, transition(ops, z, u), u)

    return fn


def horizon_args(z: list[Any], temperature_K: Any, horizon_s: Any, sign: Any = None) -> dict[str, Any]:
    """The ``args`` of :func:`horizon_voltage`'s function (``sign``: the hysteresis sign, None
    for a cell without hysteresis)."""
    args = {**{f"z{k}": v for k, v in enumerate(z)}, "temperature_K": temperature_K, "dt_s": horizon_s}
    return args if sign is None else {**args, "hysteresis_sign": sign}


def voltage_limited_current(ops: Ops, voltage_fn: Callable[..., list[Any]], z: list[Any], temperature_K: Any,
                            horizon_s: Any, limit_V: Any, sign: Any = None) -> tuple[Any, Any]:
    """(current, the voltage it gives after the horizon) with that voltage at ``limit_V``: a
    positive (discharge) current for a lower limit below the present voltage, a negative (charge)
    one for an upper limit above it (``sign``: the hysteresis sign, as :func:`horizon_args`)."""
    args = horizon_args(z, temperature_K, horizon_s, sign)
    current = 0.0 * z[0]
    for _ in range(NEWTON_ITERATIONS):
        (voltage,), ((slope,),) = ops.linearise(voltage_fn, [current], args)
        current = current - ops.safe_div(voltage - limit_V, slope)
    (voltage,), _ = ops.linearise(voltage_fn, [current], args)
    # a current that does not reach the limit (no convergence, a table's range left: NaN) is no
    # current at all: the safe side, where a NaN-ignoring min would give the full rating
    solved = ops.where((ops.fabs(voltage - limit_V) < SOLVED_V) * (current == current), 1.0, 0.0)
    return ops.where(solved > 0.5, current, 0.0 * current), voltage


def element_limits(ops: Ops, voltage_fn: Callable[..., list[Any]], z: list[Any], temperature_K: Any,
                   settings: dict[str, Any], sign: Any = None) -> dict[str, Any]:
    """Per element: the discharge and charge current limits (magnitudes) and what bounds each.
    ``settings``: ``horizon_s``, ``min_voltage_V``, ``max_voltage_V``,
    ``max_discharge_current_A``, ``max_charge_current_A`` (the element's rating),
    ``derating_temperature_K`` with ``discharge_derating`` and ``charge_derating`` (factors on
    the ratings), ``soc_window_low`` and ``soc_window_high``; ``sign``: the hysteresis sign, as
    :func:`horizon_args`."""
    soc = z[0]
    horizon = settings["horizon_s"]
    v_dis, _ = voltage_limited_current(ops, voltage_fn, z, temperature_K, horizon, settings["min_voltage_V"], sign)
    v_ch, _ = voltage_limited_current(ops, voltage_fn, z, temperature_K, horizon, settings["max_voltage_V"], sign)
    grid = settings["derating_temperature_K"]
    rated_dis = settings["max_discharge_current_A"] * ops.interp1(temperature_K, grid, settings["discharge_derating"])
    rated_ch = settings["max_charge_current_A"] * ops.interp1(temperature_K, grid, settings["charge_derating"])
    discharge = ops.where(soc > settings["soc_window_low"], ops.fmax(ops.fmin(v_dis, rated_dis), 0.0), 0.0 * soc)
    charge = ops.where(soc < settings["soc_window_high"], ops.fmax(ops.fmin(-v_ch, rated_ch), 0.0), 0.0 * soc)
    return {"discharge_A": discharge, "charge_A": charge, "voltage_limited_discharge_A": v_dis,
            "voltage_limited_charge_A": -v_ch, "rated_discharge_A": rated_dis, "rated_charge_A": rated_ch}


def feedback_factor(ops: Ops, factor: Any, room_V: Any, dt_s: Any, settings: dict[str, Any]) -> Any:
    """The voltage feedback's derating factor after a step, from its value before.

    ``room_V``: how far the predicted voltage of the element nearest its limit stays inside the
    aimed-at limit (the limit with the margin), predicted as the measured voltage plus its trend
    over ``feedback_lookahead_s`` (negative: past it). The factor integrates that room, scaled
    so that ``feedback_band_V`` of it moves the factor by 1 in ``feedback_time_s``; it falls as fast
    as that, but rises by at most ``feedback_recovery_per_s`` per second, so a limit that has
    bound does not snap back and drive the cell past its limit again. Between 0 and 1; 1 without
    ``voltage_feedback``.
    """
    change = room_V * dt_s / (settings["feedback_band_V"] * settings["feedback_time_s"])
    change = ops.fmin(change, settings["feedback_recovery_per_s"] * dt_s)
    new = ops.clip(factor + change, 0.0, 1.0)
    return ops.where(settings["voltage_feedback"] > 0.5, new, 1.0 + 0.0 * factor)
