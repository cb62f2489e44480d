"""BMS monitoring: threshold alarms with debounce, sensor plausibility and rest detection.

Every alarm is a condition (a 0/1 value, per element or for the pack) and a debounced flag: the
flag changes to the condition's value once the condition has differed from the flag for
``debounce_s`` without a break (so a condition shorter than that never raises it, and a raised
flag clears only after the condition has been absent that long). Conditions:

* over- and under-voltage (any element above / below its threshold), over- and
  under-temperature, over-current in discharge and in charge (positive current = discharge);
* pack voltage plausibility: the measured pack voltage departs from the sum of the element
  voltages by more than a tolerance (a voltage sensor, or the pack measurement, is wrong);
* a voltage sensor that disagrees with the estimator: the filter's innovation beyond ``k``
  standard deviations of its predicted spread (a drifting sensor, a broken connection), or whose
  reading has not changed (by more than ``stuck_resolution_V``) for ``stuck_time_s`` while current
  flows (stuck: a live sensor's noise and the cell's response move it);
* a temperature sensor that departs from the median of all of them (itself included: it needs
  three elements or more to single one out) by more than a tolerance;
* rest: the current below a threshold (a timer of how long).

A raised alarm stops charging, discharging or both (:data:`STOPS_CHARGE`, :data:`STOPS_DISCHARGE`):
the BMS then reports zero for that direction's current and power limits and asks no charge
current.
"""

from __future__ import annotations

from typing import Any

from fmutwin.ops import Ops

#: the pack-level alarms, in the order of their outputs
PACK_ALARMS = ("over_voltage", "under_voltage", "over_temperature", "under_temperature", "over_current_discharge",
               "over_current_charge", "pack_voltage_implausible")
#: the per-element sensor alarms
ELEMENT_ALARMS = ("voltage_sensor", "temperature_sensor")
#: what a raised alarm stops: charging (its limit and the charge request go to zero) and discharging;
#: the alarms of one direction leave the other free (a low voltage may still be charged away)
STOPS_CHARGE = tuple(a for a in (*PACK_ALARMS, *ELEMENT_ALARMS) if a not in ("under_voltage", "over_current_discharge"))
STOPS_DISCHARGE = tuple(a for a in (*PACK_ALARMS, *ELEMENT_ALARMS)
                        if a not in ("over_voltage", "over_current_charge", "under_temperature"))


def debounce(ops: Ops, condition: Any, timer: Any, flag: Any, dt: Any, debounce_s: Any) -> tuple[Any, Any]:
    """(timer, flag) after a step: the flag takes the condition's value once they have differed
    for ``debounce_s`` without a break; the timer is how long they have differed."""
    differs = ops.where(ops.fabs(condition - flag) > 0.5, 1.0, 0.0)
    timer = differs * (timer + dt)
    flip = ops.where(timer >= debounce_s - 1e-9, 1.0, 0.0)
    return (1.0 - flip) * timer, flip * condition + (1.0 - flip) * flag


def unchanged_time(ops: Ops, voltage: Any, previous: Any, unchanged_s: Any, current_flows: Any, dt: Any,
                   resolution: Any = 0.0) -> Any:
    """How long each voltage reading has stayed the same (within ``resolution``: an ADC's step)
    while current flowed [s]."""
    same = ops.where(ops.fabs(voltage - previous) <= resolution, 1.0, 0.0)
    return same * (unchanged_s + current_flows * dt)


def conditions(ops: Ops, voltage: Any, temperature: Any, current: Any, pack_voltage: Any, pack_measured: Any,
               innovation: Any, innovation_variance: Any, unchanged_s: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """The alarm conditions (0/1) of a step from the measurements, the filter's innovation and
    how long each voltage reading has not changed (:func:`unchanged_time`); ``pack_measured`` 0:
    the pack voltage is not measured (its plausibility condition stays 0)."""
    def above(x: Any, limit: Any) -> Any:
        return ops.where(x > limit, 1.0, 0.0)

    total = ops.total(voltage)
    measured = ops.where(pack_measured > 0.5, 1.0, 0.0)
    gap = ops.fabs(ops.where(measured > 0.5, pack_voltage, total) - total)
    median = ops.median(temperature)
    return {
        "over_voltage": above(ops.largest(voltage), settings["over_voltage_V"]),
        "under_voltage": above(settings["under_voltage_V"], ops.smallest(voltage)),
        "over_temperature": above(ops.largest(temperature), settings["over_temperature_K"]),
        "under_temperature": above(settings["under_temperature_K"], ops.smallest(temperature)),
        "over_current_discharge": above(current, settings["over_current_discharge_A"]),
        "over_current_charge": above(-current, settings["over_current_charge_A"]),
        "pack_voltage_implausible": measured * above(gap, settings["pack_voltage_tolerance_V"]),
        "voltage_sensor": ops.fmax(above(innovation * innovation, settings["innovation_sigmas"] ** 2 * innovation_variance),
                                   above(unchanged_s, settings["stuck_time_s"] - 1e-9)),
        "temperature_sensor": above(ops.fabs(temperature - median), settings["temperature_sensor_tolerance_K"]),
    }
