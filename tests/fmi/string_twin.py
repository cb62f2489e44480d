"""A twin shaped unlike the cell, for the twin-neutral FMI layer's tests: a series string of N
leaky capacitor cells, declared once and exported as Python and native FMUs, FMI 2.0 and 3.0, by
the same generic path a real twin takes (an EquationSpec and EquationModel, no FMI or C code).

It uses what the module, pack and BMS twins need: a structural Integer parameter (N, fixed when
built), array parameters, an array input, a Boolean input, an Integer parameter and an Integer
and a Boolean output, a range bounded by a parameter. Cell i: C_i dv_i/dt = -I - G_i v_i (I
positive discharges, G_i a leak conductance, an array input), terminal voltage v_i - I R_i.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmutwin.interface import EquationSpec, TwinExport, Variable

N_CELLS = 3
INPUTS = ("current_A", "connected", *(f"leak_conductance_S[{k}]" for k in range(N_CELLS)), "dt_s")
STATES = ("time_s", *(f"v_{k}" for k in range(N_CELLS)))


def initial_state(ops: Any, structure: Any, p: dict[str, Any]) -> dict[str, Any]:
    return {"time_s": 0.0 * p["initial_voltage_V"][0],
            **{f"v_{k}": p["initial_voltage_V"][k] + 0.0 for k in range(N_CELLS)}}


def step(ops: Any, structure: Any, p: dict[str, Any], x: dict[str, Any], u: dict[str, Any]):
    dt = u["dt_s"]
    current = ops.where(u["connected"] > 0.5, u["current_A"], 0.0 * u["current_A"])
    xn = {"time_s": x["time_s"] + dt}
    y: dict[str, Any] = {}
    terminals = []
    highest, highest_value, below = 0.0 * dt + 1.0, x["v_0"] - 1e300, 0.0 * dt
    for k in range(N_CELLS):
        c, g = p["capacitance_F"][k], u["leak_conductance_S"][k]  # an array input, grouped from its entries
        v = x[f"v_{k}"]
        v_new = v + (-current - g * v) * dt / c * ops.phi1(g * dt / c)
        xn[f"v_{k}"] = v_new
        terminal = v_new - current * p["resistance_ohm"][k]
        terminals.append(terminal)
        higher = terminal > highest_value
        highest = ops.where(higher, k + 1.0, highest)
        highest_value = ops.where(higher, terminal, highest_value)
        below = ops.fmax(below, ops.where(terminal < p["low_voltage_V"], 1.0, 0.0))
    y["cell_voltage_V"] = ops.cell_array(terminals)
    y["string_voltage_V"] = ops.total(y["cell_voltage_V"])
    y["highest_cell"] = highest
    y["any_below"] = below
    y["reported_voltage_V"] = sum(ops.where(p["report_cell"] == k + 1.0, terminals[k], 0.0 * dt)
                                  for k in range(N_CELLS))
    return xn, y


P_DEFAULT = {"n_cells": float(N_CELLS), "capacitance_F": [100.0, 120.0, 80.0], "resistance_ohm": [0.01, 0.02, 0.015],
             "initial_voltage_V": [3.0, 3.1, 2.9], "low_voltage_V": 2.5, "report_cell": 2.0, "current_limit_A": 50.0}


def spec() -> EquationSpec:
    d = P_DEFAULT
    parameters = (
        (Variable("numCells", "parameter", "cells in series (fixed when built)", type="Integer", start=N_CELLS,
                  structural=True), "n_cells"),
        (Variable("capacitance", "parameter", "cell capacitances", unit="F", start=d["capacitance_F"],
                  dimensions=(N_CELLS,), min=1e-9), "capacitance_F"),
        (Variable("resistance", "parameter", "cell series resistances", unit="Ohm", start=d["resistance_ohm"],
                  dimensions=(N_CELLS,), min=0.0), "resistance_ohm"),
        (Variable("initialVoltage", "parameter", "initial cell voltages", unit="V", start=d["initial_voltage_V"],
                  dimensions=(N_CELLS,), min=0.0, max=10.0), "initial_voltage_V"),
        (Variable("lowVoltage", "parameter", "anyBelow threshold", unit="V", start=d["low_voltage_V"]),
         "low_voltage_V"),
        (Variable("reportCell", "parameter", "cell reported in reportedVoltage (1-based)", type="Integer",
                  start=2, min=1, max=N_CELLS), "report_cell"),
        (Variable("currentLimit", "parameter", "largest |current| accepted", unit="A", start=d["current_limit_A"],
                  min=0.0), "current_limit_A"),
    )
    inputs = (
        (Variable("current", "input", "string current, positive = discharge", unit="A", start=0.0,
                  min="-currentLimit", max="currentLimit"), "current_A"),
        (Variable("connected", "input", "false: the string carries no current", type="Boolean", start=True),
         "connected"),
        (Variable("leakConductance", "input", "leak conductance of each cell", unit="S", start=[0.0] * N_CELLS,
                  dimensions=(N_CELLS,), min=0.0), "leak_conductance_S"),
    )
    outputs = (
        (Variable("cellVoltage", "output", "terminal voltage of each cell", unit="V", dimensions=(N_CELLS,),
                  warn_range=(2.0, 4.5)), "cell_voltage_V"),
        (Variable("stringVoltage", "output", "sum of the cell terminal voltages (valid down to 0 V: a validity "
                  "limit)", unit="V", min=0.0), "string_voltage_V"),
        (Variable("highestCell", "output", "1-based index of the highest cell", type="Integer"), "highest_cell"),
        (Variable("anyBelow", "output", "a cell is below lowVoltage", type="Boolean"), "any_below"),
        (Variable("reportedVoltage", "output", "terminal voltage of cell reportCell", unit="V"),
         "reported_voltage_V"),
    )
    return EquationSpec(step=step, initial_state=initial_state, structure=None, p=dict(P_DEFAULT),
                        state_names=STATES, input_names=INPUTS, parameters=parameters, inputs=inputs,
                        outputs=outputs, dt_input="dt_s", time_state="time_s")


def _model(resources: Any) -> Any:
    from fmutwin.twins.equation_model import EquationModel

    return EquationModel(spec())


HERE = Path(__file__).resolve().parent
EXPORT = TwinExport("string_twin", "StringTwin", "test twin: a series string of leaky capacitor cells", _model,
                    spec, slave_source=HERE / "string_twin_slave.py", modules=(HERE / "string_twin.py",))
