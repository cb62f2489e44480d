"""The load that draws a power demand from a pack of modules in series: an inverter's current
command, I = P / V_pack, with V_pack the sum of the module voltages it measures at the start of the
step and I clamped to the BMS's limits (discharge limit above, minus the charge limit below).
Positive power and current discharge the pack. The current holds over the step, so the power
delivered differs from the demand by the voltage's change over the step: the load says so by
giving both the demanded and the commanded current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fmutwin.ops import Ops

INPUTS: tuple[str, ...] = ("power_demand_W", "discharge_current_limit_A", "charge_current_limit_A", "dt_s")


@dataclass(frozen=True)
class PowerLoadStructure:
    """How many module voltages the load adds up."""

    n_modules: int

    def state_names(self) -> list[str]:
        return ["time_s"]

    def input_names(self) -> tuple[str, ...]:
        return INPUTS[:-1] + tuple(f"module_voltage_V[{m}]" for m in range(self.n_modules)) + INPUTS[-1:]


def initial_state(ops: Ops, s: PowerLoadStructure, p: dict[str, Any]) -> dict[str, Any]:
    return {"time_s": 0.0 * p["minimum_voltage_V"]}


def step(ops: Ops, s: PowerLoadStructure, p: dict[str, Any], x: dict[str, Any],
         u: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The current for the step from the demand and the measured module voltages."""
    pack_voltage = ops.total(ops.as_cells(u["module_voltage_V"]))
    demanded = u["power_demand_W"] / ops.fmax(pack_voltage, p["minimum_voltage_V"])
    current = ops.clip(demanded, -u["charge_current_limit_A"], u["discharge_current_limit_A"])
    y = {"current_A": current, "demanded_current_A": demanded, "pack_voltage_V": pack_voltage,
         "power_W": current * pack_voltage}
    return {"time_s": x["time_s"] + u["dt_s"]}, y
