"""The BMS twin's exposed variables (declared once: FMI 2.0 and 3.0, Python and native, come from
this) and its equation spec. Nothing here knows FMI. Positive current discharges the pack.

Inputs are what a BMS measures (element voltages, element temperatures, the pack current, the
pack voltage where ``packVoltageMeasured``) and whether a charger is connected; outputs are what
it decides: SoC and its spread, limits, the charge current request, the bleed switches (the
module FMU's ``bleed`` input) and the alarms.
"""

from __future__ import annotations

from pathlib import Path

from fmutwin.equations import bms
from fmutwin.equations.bms_monitoring import ELEMENT_ALARMS, PACK_ALARMS
from fmutwin.interface import EquationSpec, Variable
from fmutwin.params.bms import BmsParameters
from fmutwin.twins.bms import bms_parameters

#: the largest accepted |pack current| by default: this C-rate of an element
LIMIT_C_RATE = 20.0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def declaration(params: BmsParameters) -> dict[str, tuple[tuple[Variable, str], ...]]:
    """Parameters, inputs and outputs, each as (variable, twin key), from the BMS file."""
    ns = params.n_series
    est, ch, bal = params.estimator, params.charge, params.balancing
    one_c = params.cell.nominal_capacity_As / 3600.0 * params.n_parallel
    parameters = (
        (Variable("socFromOcv", "parameter", "start from the SoC of the OCV at the first measured voltages (the pack "
                  "at rest); else from initialSoc", type="Boolean", start=est.initial_soc is None), "estimator.soc_from_ocv"),
        (Variable("initialSoc", "parameter", "initial SoC guess of every element", unit="1",
                  start=0.5 if est.initial_soc is None else est.initial_soc, min=0.0, max=1.0), "estimator.initial_soc"),
        (Variable("cvVoltage", "parameter", "CC-CV charge: the highest element's voltage held", unit="V",
                  start=ch.cv_voltage_V, min=0.1, max=10.0), "charge.cv_voltage_V"),
        (Variable("bleedResistance", "parameter", "an element's bleed resistor (the estimator counts its current)",
                  unit="Ohm", start=bal.bleed_resistance_ohm, min=1e-6, max=1e6), "balancing.bleed_resistance_ohm"),
        (Variable("packVoltageMeasured", "parameter", "the pack voltage input is a measurement (checked against "
                  "the sum of the elements)", type="Boolean", start=False), "pack_voltage_measured"),
        (Variable("currentLimit", "parameter", "largest accepted |packCurrent|", unit="A",
                  start=LIMIT_C_RATE * one_c, min=0.0, max=1e6), "current_limit_A"),
    )
    inputs = (
        (Variable("elementVoltage", "input", "measured voltage of each series element", unit="V", start=[3.7] * ns,
                  min=0.0, max=10.0, dimensions=(ns,)), "element_voltage_V"),
        (Variable("elementTemperature", "input", "measured temperature of each series element", unit="K",
                  start=[298.15] * ns, min=1.0, max=1000.0, dimensions=(ns,)), "temperature_K"),
        (Variable("packCurrent", "input", "measured pack current, positive = discharge", unit="A", start=0.0,
                  min="-currentLimit", max="currentLimit"), "current_A"),
        (Variable("packVoltage", "input", "measured pack voltage (read where packVoltageMeasured)", unit="V",
                  start=3.7 * ns, min=0.0, max=1e5), "pack_voltage_V"),
        (Variable("chargerConnected", "input", "a charger is connected: ask it for a CC-CV current", type="Boolean",
                  start=False), "charger_connected"),
    )

    def per_element(name: str, key: str, description: str, unit: str = "1", boolean: bool = False) -> tuple:
        return (Variable(name, "output", description, type="Boolean" if boolean else "Real",
                         unit=None if boolean else unit, dimensions=(ns,)), key)

    def pack(name: str, key: str, description: str, unit: str = "1", boolean: bool = False) -> tuple:
        return (Variable(name, "output", description, type="Boolean" if boolean else "Real",
                         unit=None if boolean else unit), key)

    outputs = (
        per_element("soc", "soc", "estimated SoC of each element"),
        per_element("socStd", "soc_std", "standard deviation of the SoC estimate"),
        per_element("socCoulombCounting", "soc_coulomb_counting", "SoC by charge counting alone"),
        per_element("r0Factor", "r0_factor", "estimated R0 over the cell file's (the adaptive filter; else 1)"),
        per_element("sohResistance", "soh_resistance", "SoH by resistance, (R_EOL - R) / (R_EOL - R_new)"),
        pack("packSocMin", "pack_soc_min", "lowest element SoC"),
        pack("packSocMax", "pack_soc_max", "highest element SoC"),
        pack("packSocMean", "pack_soc_mean", "mean element SoC"),
        pack("packSocUsable", "pack_soc_usable", "pack SoC respecting the weakest element"),
        pack("socSpread", "soc_spread", "imbalance: highest minus lowest element SoC estimate"),
        pack("socSpreadStd", "soc_spread_std", "standard deviation of that spread"),
        pack("voltageSpread", "voltage_spread_V", "imbalance: highest minus lowest element voltage", "V"),
        pack("dischargeCurrentLimit", "discharge_current_limit_A", "largest discharge current now", "A"),
        pack("chargeCurrentLimit", "charge_current_limit_A", "largest charge current now (a magnitude)", "A"),
        pack("dischargeFeedbackFactor", "discharge_feedback_factor", "the voltage feedback's factor on the "
             "discharge limits (1: not derated)"),
        pack("chargeFeedbackFactor", "charge_feedback_factor", "the voltage feedback's factor on the charge limits "
             "(1: not derated)"),
        pack("dischargePowerLimit", "discharge_power_limit_W", "largest discharge power now", "W"),
        pack("chargePowerLimit", "charge_power_limit_W", "largest charge power now (a magnitude)", "W"),
        pack("chargeCurrentRequest", "charge_current_request_A",
             "CC-CV: the charge current asked of the charger (a magnitude; pack current = minus it)", "A"),
        pack("chargeComplete", "charge_complete", "CC-CV charge complete", boolean=True),
        per_element("bleed", "bleed", "balancing: switch the element's bleed resistor on", boolean=True),
        *(pack(_camel(f"alarm_{name}"), f"alarm_{name}", f"alarm: {name.replace('_', ' ')}", boolean=True)
          for name in PACK_ALARMS),
        *(per_element(_camel(f"alarm_{name}"), f"alarm_{name}", f"alarm: {name.replace('_', ' ')} fault",
                      boolean=True) for name in ELEMENT_ALARMS),
        pack("alarmAny", "alarm_any", "any alarm raised", boolean=True),
        pack("restTime", "rest_time_s", "how long the pack has been at rest", "s"),
        per_element("restSoc", "rest_soc", "SoC from the OCV at the end of the last rest of health.rest_s (before "
                    "one: the initial estimate)"),
        per_element("capacity", "capacity_As", "estimated capacity of each element (from rest to rest)", "As"),
        per_element("sohCapacity", "soh_capacity", "SoH by capacity: estimated over the cell file's"),
        per_element("soe", "soe", "state of energy of each element"),
        pack("packSoe", "pack_soe", "state of energy of the pack"),
        pack("packEnergy", "pack_energy_J", "energy the pack holds down to empty", "J"),
        pack("equivalentFullCycles", "equivalent_full_cycles", "discharged charge over the capacity"),
        pack("coulombicEfficiency", "coulombic_efficiency", "discharged over charged charge"),
    )
    return {"parameters": parameters, "inputs": inputs, "outputs": outputs}


def equation_spec(params: BmsParameters) -> EquationSpec:
    """The BMS equations (:mod:`fmutwin.equations.bms`) and the binding of the declared variables."""
    structure, p = bms_parameters(params)
    declared = declaration(params)
    starts = {key: var.start for var, key in declared["parameters"]}
    p = {**p, "current_limit_A": starts["current_limit_A"]}  # the bound of packCurrent's range
    return EquationSpec(step=bms.step, initial_state=bms.initial_state, structure=structure, p=p,
                        state_names=tuple(structure.state_names()), input_names=structure.input_names(),
                        parameters=declared["parameters"], inputs=declared["inputs"], outputs=declared["outputs"],
                        dt_input="dt_s", time_state="time_s")


def bms_file_spec(parameter_file: str | Path | None) -> EquationSpec:
    """The spec of the parameter file an FMU carries (the shipped example while none is given)."""
    from fmutwin.params.defaults import default_bms_parameters

    if parameter_file is not None and Path(parameter_file).is_file():
        return equation_spec(BmsParameters.load(parameter_file))
    return equation_spec(default_bms_parameters())
