"""The power load's exposed variables (declared once) and its equation spec: the Python and native
``PowerLoad`` FMUs that turn a pack power demand into the current of modules in series (see
``equations.power_load``). Positive power and current discharge the pack."""

from __future__ import annotations

from fmutwin.equations import power_load
from fmutwin.interface import EquationSpec, Variable

#: module voltages the shipped load adds up (the example pack's 8 modules)
N_MODULES = 8


def equation_spec(n_modules: int = N_MODULES) -> EquationSpec:
    structure = power_load.PowerLoadStructure(n_modules)
    p = {"minimum_voltage_V": 1.0, "n_modules": float(n_modules), "current_limit_A": 1e5}
    parameters = (
        (Variable("numModules", "parameter", "module voltages added up (fixed when built)", type="Integer",
                  start=n_modules, structural=True), "n_modules"),
        (Variable("minimumVoltage", "parameter", "the pack voltage the current is computed with is at least this",
                  unit="V", start=1.0, min=1e-3, max=1e5), "minimum_voltage_V"),
        (Variable("currentLimit", "parameter", "largest limit accepted as an input", unit="A", start=1e5, min=0.0,
                  max=1e9), "current_limit_A"),
    )
    inputs = (
        (Variable("powerDemand", "input", "power asked of the pack, positive = discharge", unit="W", start=0.0,
                  min=-1e9, max=1e9), "power_demand_W"),
        (Variable("dischargeCurrentLimit", "input", "largest discharge current (the BMS's)", unit="A", start=1e5,
                  min=0.0, max="currentLimit"), "discharge_current_limit_A"),
        (Variable("chargeCurrentLimit", "input", "largest charge current, a magnitude (the BMS's)", unit="A",
                  start=1e5, min=0.0, max="currentLimit"), "charge_current_limit_A"),
        (Variable("moduleVoltage", "input", "per module: its terminal voltage (the modules in series)", unit="V",
                  start=[0.0] * n_modules, min=0.0, max=1e5, dimensions=(n_modules,)), "module_voltage_V"),
    )
    outputs = (
        (Variable("current", "output", "pack current commanded for the step, positive = discharge", unit="A"),
         "current_A"),
        (Variable("demandedCurrent", "output", "the current the demand asks for, before the limits", unit="A"),
         "demanded_current_A"),
        (Variable("packVoltage", "output", "sum of the module voltages the current was computed with", unit="V"),
         "pack_voltage_V"),
        (Variable("power", "output", "commanded current times that voltage", unit="W"), "power_W"),
    )
    return EquationSpec(step=power_load.step, initial_state=power_load.initial_state, structure=structure, p=p,
                        state_names=tuple(structure.state_names()), input_names=structure.input_names(),
                        parameters=parameters, inputs=inputs, outputs=outputs, dt_input="dt_s", time_state="time_s")
