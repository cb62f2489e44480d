"""The pack-thermal twin's exposed variables (declared once) and its equation spec, for the Python
(EquationModel) and native PackThermal FMUs. Arrays are over the modules, in coolant order."""

from __future__ import annotations

from pathlib import Path

from fmutwin.equations import pack_thermal
from fmutwin.interface import EquationSpec, Variable
from fmutwin.params.cell import T_MAX_K, T_MIN_K
from fmutwin.params.pack import PER_MODULE_RANGES, PackThermalParameters
from fmutwin.twins.pack_thermal import pack_thermal_parameters

_PER_MODULE = {"plate_heat_capacity_J_per_K": ("plateHeatCapacity", "J/K", "cold plate with its coolant"),
               "plate_to_coolant_W_per_K": ("plateToCoolant", "W/K", "plate-to-coolant UA at the reference flow"),
               "plate_to_enclosure_W_per_K": ("plateToEnclosure", "W/K", "plate to enclosure conductance"),
               "initial_plate_temperature_K": ("initialPlateTemperature", "K", "initial plate temperature")}
_SCALARS = {"reference_flow_kg_per_s": ("referenceFlow", "kg/s", "flow at which plateToCoolant holds", 1e-9, 100.0),
            "flow_exponent": ("flowExponent", "1", "UA ~ flow^n (0: constant; Dittus-Boelter 0.8)", 0.0, 1.0),
            "coolant_heat_capacity_J_per_kg_K": ("coolantHeatCapacity", "J/(kg.K)", "coolant c_p", 1e-9, 1e5),
            "enclosure_heat_capacity_J_per_K": ("enclosureHeatCapacity", "J/K", "enclosure air and structure", 1e-9,
                                                1e9),
            "enclosure_to_ambient_W_per_K": ("enclosureToAmbient", "W/K", "enclosure to ambient", 0.0, 1e6),
            "initial_enclosure_temperature_K": ("initialEnclosureTemperature", "K", "initial enclosure temperature",
                                                T_MIN_K, T_MAX_K)}


def equation_spec(params: PackThermalParameters) -> EquationSpec:
    """The pack-thermal equations and the binding of the declared variables (starts from ``params``)."""
    structure, p = pack_thermal_parameters(params)
    m = params.n_modules
    p = {**p, "n_modules": float(m)}
    parameters = [(Variable("numModules", "parameter", "modules along the coolant loop (fixed when built)",
                            type="Integer", start=m, structural=True), "n_modules")]
    parameters += [(Variable(name, "parameter", f"per module: {what}", unit=unit, start=params.per_module(key),
                             dimensions=(m,), min=PER_MODULE_RANGES[key][0], max=PER_MODULE_RANGES[key][1]), key)
                   for key, (name, unit, what) in _PER_MODULE.items()]
    parameters += [(Variable(name, "parameter", what, unit=unit, start=float(getattr(params, key)), min=lo, max=hi),
                    key) for key, (name, unit, what, lo, hi) in _SCALARS.items()]
    inputs = (
        (Variable("coolantFlow", "input", "coolant mass flow (0: the pump has failed)", unit="kg/s", start=0.1,
                  min=0.0, max=100.0), "coolant_flow_kg_per_s"),
        (Variable("coolantInletTemperature", "input", "coolant temperature at the pack's inlet", unit="K",
                  start=298.15, min=T_MIN_K, max=T_MAX_K), "coolant_inlet_temperature_K"),
        (Variable("ambientTemperature", "input", "ambient temperature around the enclosure", unit="K", start=298.15,
                  min=T_MIN_K, max=T_MAX_K), "ambient_temperature_K"),
        (Variable("plateHeat", "input", "per module: heat into its cold plate (the module's heatToColdPlate)",
                  unit="W", start=[0.0] * m, dimensions=(m,)), "plate_heat_W"),
        (Variable("enclosureHeat", "input", "per module: heat into the enclosure (the module's heatToAmbient)",
                  unit="W", start=[0.0] * m, dimensions=(m,)), "enclosure_heat_W"),
    )
    outputs = (
        (Variable("plateTemperature", "output", "per module: cold-plate temperature (the module's "
                  "coldPlateTemperature)", unit="K", dimensions=(m,)), "plate_temperature_K"),
        (Variable("coolantTemperature", "output", "per module: coolant temperature arriving at its plate", unit="K",
                  dimensions=(m,)), "coolant_temperature_K"),
        (Variable("outletTemperature", "output", "coolant temperature at the pack's outlet", unit="K"),
         "outlet_temperature_K"),
        (Variable("enclosureTemperature", "output", "enclosure temperature (the modules' ambientTemperature)",
                  unit="K"), "enclosure_temperature_K"),
        (Variable("heatToCoolant", "output", "heat the coolant carries away", unit="W"), "heat_to_coolant_W"),
        (Variable("heatToAmbient", "output", "heat the enclosure gives the ambient", unit="W"), "heat_to_ambient_W"),
        (Variable("plateHeatToCoolant", "output", "per module: heat its plate gives the coolant", unit="W",
                  dimensions=(m,)), "plate_heat_to_coolant_W"),
    )
    return EquationSpec(step=pack_thermal.step, initial_state=pack_thermal.initial_state, structure=structure, p=p,
                        state_names=tuple(structure.state_names()), input_names=structure.input_names(),
                        parameters=tuple(parameters), inputs=inputs, outputs=outputs, dt_input="dt_s",
                        time_state="time_s")


def pack_thermal_file_spec(parameter_file: str | Path | None) -> EquationSpec:
    """The spec of the parameter file an FMU carries (the shipped example while none is given)."""
    from fmutwin.params.defaults import default_pack_thermal_parameters

    if parameter_file is not None and Path(parameter_file).is_file():
        return equation_spec(PackThermalParameters.load(parameter_file))
    return equation_spec(default_pack_thermal_parameters())
