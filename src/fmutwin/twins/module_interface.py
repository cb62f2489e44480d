"""The module twin's exposed variables (declared once) and its equation spec, from which both the
Python FMU (``EquationModel``) and the native FMU are made. Nothing here knows FMI. Positive
current discharges the module.

Arrays are over the cells (cell c: element ``c // Np``, position ``c % Np``) or over the series
elements; FMI 3.0 gives them as arrays, FMI 2.0 as scalars ``cellVoltage[1]``..
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fmutwin.equations import module
from fmutwin.interface import EquationSpec, Variable
from fmutwin.params.cell import T_MAX_K, T_MIN_K
from fmutwin.params.module import VARYING, ModuleLayout, ModuleParameters
from fmutwin.twins.module import SPLIT_TOLERANCE_V, module_equation_parameters


def current_limit_A(params: ModuleParameters) -> float:
    """Default largest accepted |module current|: 20C of the cells, times Np."""
    return 20.0 * params.cell.nominal_capacity_As / 3600.0 * params.n_parallel


_VARYING_NAMES = {"capacity_scale": "capacityScale", "r0_scale": "r0Scale", "rc_resistance_scale": "rcResistanceScale",
                  "initial_soc": "initialSoc", "initial_temperature_K": "initialTemperature",
                  "initial_cycles": "initialCycles", "internal_short_scale": "internalShortScale"}
_VARYING_UNITS = {"initial_temperature_K": "K"}


def module_parameters(params: ModuleLayout, varying: tuple[str, ...], current_limit: float,
                      no_cycling: bool = False) -> tuple[tuple[Variable, str], ...]:
    """The parameters of any module FMU: Ns, Np, the per-cell ``varying`` quantities (the file's
    realised variation), interconnects, thermal conductances, bleed resistor, current limit
    (default ``current_limit``); ``no_cycling``: initialCycles is fixed at 0."""
    n, ns = params.n_cells, params.n_series
    realised = params.realise().realised or {}
    ic, th = params.interconnect, params.thermal
    out = [
        (Variable("numSeries", "parameter", "series elements Ns (fixed when built)", type="Integer", start=ns,
                  structural=True), "n_series"),
        (Variable("numParallel", "parameter", "parallel cells per element Np (fixed when built)", type="Integer",
                  start=params.n_parallel, structural=True), "n_parallel"),
    ]
    for key in varying:
        lo, hi = VARYING[key][1]
        var = Variable(_VARYING_NAMES[key], "parameter", f"per cell: {VARYING[key][0]} (the module file's realised "
                       "variation)", unit=_VARYING_UNITS.get(key, "1"), start=list(realised[key]), dimensions=(n,),
                       min=lo, max=hi)
        if key == "initial_cycles" and no_cycling:  # the cell has no cycling aging
            var = replace(var, min=0.0, max=0.0)
        out.append((var, key))
    out += [
        (Variable("tabResistance", "parameter", "cell tab resistance", unit="Ohm", start=ic.tab_resistance_ohm,
                  min=0.0, max=1.0), "tab_resistance_ohm"),
        (Variable("parallelBusbarResistance", "parameter", "busbar segment between parallel cells", unit="Ohm",
                  start=ic.parallel_busbar_resistance_ohm, min=0.0, max=1.0), "parallel_busbar_resistance_ohm"),
        (Variable("seriesBusbarResistance", "parameter", "busbar between series elements", unit="Ohm",
                  start=ic.series_busbar_resistance_ohm, min=0.0, max=1.0), "series_busbar_resistance_ohm"),
        (Variable("neighbourConductance", "parameter", "thermal conductance between adjacent cells", unit="W/K",
                  start=th.neighbour_conductance_W_per_K, min=0.0, max=1e6), "neighbour_conductance_W_per_K"),
        (Variable("coldPlateConductance", "parameter", "thermal conductance of each cell to the cold plate",
                  unit="W/K", start=th.cold_plate_conductance_W_per_K, min=0.0, max=1e6),
         "cold_plate_conductance_W_per_K"),
        (Variable("bleedResistance", "parameter", "balancing bleed resistor of each element", unit="Ohm",
                  start=params.bleed_resistance_ohm, min=1e-6, max=1e6), "bleed_resistance_ohm"),
        (Variable("currentLimit", "parameter", "largest accepted |module current| (default 20C x Np)", unit="A",
                  start=current_limit, min=0.0, max=1e9), "current_limit_A"),
    ]
    return tuple(out)


def module_inputs(ns: int) -> tuple[tuple[Variable, str], ...]:
    """The inputs of any module FMU of ``ns`` series elements."""
    return (
        (Variable("current", "input", "module current, positive = discharge; range +-currentLimit", unit="A",
                  start=0.0, min="-currentLimit", max="currentLimit"), "current_A"),
        (Variable("coldPlateTemperature", "input", "cold-plate temperature the cells conduct to", unit="K",
                  start=298.15, min=T_MIN_K, max=T_MAX_K), "cold_plate_temperature_K"),
        (Variable("ambientTemperature", "input", "ambient temperature the cells convect to", unit="K", start=298.15,
                  min=T_MIN_K, max=T_MAX_K), "ambient_temperature_K"),
        (Variable("bleed", "input", "balancing: the bleed resistor of each series element switched on",
                  type="Boolean", start=[False] * ns, dimensions=(ns,)), "bleed"),
    )


def module_outputs(n: int, ns: int, soc_limits: tuple[float, float],
                   mean_voltage: bool = True) -> tuple[tuple[Variable, str], ...]:
    """The outputs of any module FMU of ``n`` cells in ``ns`` elements (``mean_voltage``: the
    module's step-mean voltage too)."""
    limits = soc_limits

    def cells(name: str, key: str, what: str, unit: str, **kw: Any) -> tuple[Variable, str]:
        return Variable(name, "output", f"per cell: {what}", unit=unit, dimensions=(n,), **kw), key

    mean = ((Variable("moduleMeanVoltage", "output", "module terminal voltage averaged over the step (times the "
                      "current: the energy delivered)", unit="V"), "module_mean_voltage_V"),) if mean_voltage else ()
    return (
        (Variable("moduleVoltage", "output", "module terminal voltage at the end of the step", unit="V"),
         "module_voltage_V"),
        *mean,
        (Variable("moduleCurrent", "output", "module current, positive = discharge (0 when an element is open)",
                  unit="A"), "module_current_A"),
        cells("cellVoltage", "cell_voltage_V", "terminal voltage at the end of the step", "V"),
        cells("cellCurrent", "cell_current_A", "current, positive = discharge", "A"),
        cells("cellSoc", "cell_soc", "state of charge (a warning outside the cell file's soc_limits)", "1",
              warn_range=limits),
        cells("cellTemperature", "cell_temperature_K", "temperature", "K"),
        cells("cellHeat", "cell_heat_W", "heat generated, with its share of interconnect and bleed losses", "W"),
        (Variable("elementVoltage", "output", "per series element: voltage at its tap (what a BMS measures)", unit="V",
                  dimensions=(ns,)), "element_voltage_V"),
        *((Variable(name, "output", what, unit=unit), key)
          for quantity, key_name, what_name, unit, suffix in (("Voltage", "voltage", "voltage", "V", "_V"),
                                                              ("Soc", "soc", "SOC", "1", ""),
                                                              ("Temperature", "temperature", "temperature", "K", "_K"))
          for name, key, what in ((f"minCell{quantity}", f"min_cell_{key_name}{suffix}", f"lowest cell {what_name}"),
                                  (f"maxCell{quantity}", f"max_cell_{key_name}{suffix}", f"highest cell {what_name}"),
                                  (f"cell{quantity}Spread", f"cell_{key_name}_spread{suffix}",
                                   f"highest - lowest cell {what_name}"))),
        *((Variable(name, "output", what, unit=unit), key) for name, key, what, unit in (
            ("heatToColdPlate", "heat_to_cold_plate_W", "heat flowing into the cold plate", "W"),
            ("heatToAmbient", "heat_to_ambient_W", "heat the cells convect to the ambient (the enclosure)", "W"),
            ("interconnectLoss", "interconnect_loss_W", "tab and busbar losses, step average", "W"),
            ("bleedLoss", "bleed_loss_W", "balancing bleed losses, step average", "W"))),
        (Variable("splitResidual", "output", "largest voltage mismatch of the current split (a warning above 1e-9 V)",
                  unit="V", warn_range=(0.0, SPLIT_TOLERANCE_V)), "split_residual_V"),
    )


def equation_spec(params: ModuleParameters) -> EquationSpec:
    """The module's equations and the binding of its declared variables (starts from ``params``)."""
    params = params.realise()
    structure, p = module_equation_parameters(params)
    p = {**p, "n_series": float(params.n_series), "n_parallel": float(params.n_parallel),
         "current_limit_A": current_limit_A(params)}  # stored for the FMU, not read by the equations
    return EquationSpec(step=module.step, initial_state=module.initial_state, structure=structure, p=p,
                        state_names=tuple(structure.state_names()), input_names=structure.input_names(),
                        parameters=module_parameters(params, tuple(VARYING), current_limit_A(params),
                                                     no_cycling=params.cell.cycling_aging is None),
                        inputs=module_inputs(params.n_series),
                        outputs=module_outputs(params.n_cells, params.n_series, params.cell.soc_limits),
                        dt_input="dt_s", time_state="time_s")


def module_file_spec(parameter_file: str | Path | None) -> EquationSpec:
    """The spec of the module file an FMU carries (the shipped example while none is given)."""
    from fmutwin.params.defaults import default_module_parameters

    if parameter_file is not None and Path(parameter_file).is_file():
        return equation_spec(ModuleParameters.load(parameter_file))
    return equation_spec(default_module_parameters())
