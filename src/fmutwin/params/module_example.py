"""The shipped example modules, each with a provenance record (tests re-make them and compare):
``data/module_example.json`` (:func:`module_example`), made from the shipped cell file (content and
record hashes), and ``data/module_echem_example.json`` (:func:`module_echem_example`), of PyBaMM
cells (the model, its options and the parameter set's content hash, which ``fmutwin provenance``
re-checks); both with the variation they realised."""

from __future__ import annotations

from fmutwin.params.cell import CellParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.params.module_echem import ModuleEchemParameters


def module_example(cell: CellParameters) -> ModuleParameters:
    """12 series elements of 4 parallel cells of ``cell``, 2 % capacity and 5 % R0 variation
    (seeded), interconnects and a thermal grid: illustrative values, not a particular module."""
    from fmutwin.provenance import attach, file_reference

    params = ModuleParameters(
        name="module_example_12s4p",
        source=(f"fmutwin example: 12 series elements of 4 parallel cells of the cell set {cell.name!r}, 2 % capacity "
                "and 5 % R0 variation (seeded normal), tab 0.1 mOhm, busbar segments 50 uOhm (parallel) and 0.1 mOhm "
                "(series), cells in a grid of 4 columns conducting 0.5 W/K to their neighbours and 2 W/K to the cold "
                "plate; illustrative values, not a particular module."),
        cell=cell, n_series=12, n_parallel=4,
        interconnect={"tab_resistance_ohm": 1e-4, "parallel_busbar_resistance_ohm": 5e-5,
                      "series_busbar_resistance_ohm": 1e-4},
        thermal={"layout": "grid", "columns": 4, "neighbour_conductance_W_per_K": 0.5,
                 "cold_plate_conductance_W_per_K": 2.0},
        bleed_resistance_ohm=30.0,
        variation={"capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 1},
                   "r0_scale": {"kind": "normal", "spread": 0.05, "seed": 2}}).realise()
    return attach(params, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.module_example",
        "cell": file_reference(cell),
        "variation": params.variation.model_dump(exclude_none=True)}})


def module_echem_example() -> ModuleEchemParameters:
    """4 series elements of 2 parallel PyBaMM SPMe cells of the Chen2020 set, 2 % capacity and
    2 % SOC variation (seeded), on a cold plate: illustrative values, not a particular module."""
    import pybamm

    from fmutwin.provenance import attach, pybamm_source
    from fmutwin.twins.echem_batch import MODEL_OPTIONS

    params = ModuleEchemParameters(
        name="module_echem_example_4s2p",
        source=("fmutwin example: PyBaMM SPMe with the Chen2020 parameter set (LG M50 21700 cell, 5 Ah nominal; "
                "Chen et al., J. Electrochem. Soc. 167 080534, 2020); heat capacity 70 J/K (about 69 g at about "
                "1000 J/(kg K)); interconnects, cold-plate and neighbour conductances chosen for the example"),
        cell={"model": "SPMe", "parameter_set": "Chen2020", "heat_capacity_J_per_K": 70.0,
              "heat_transfer_W_per_K": 0.05, "initial_soc": 0.7},
        n_series=4, n_parallel=2,
        interconnect={"tab_resistance_ohm": 5e-4, "parallel_busbar_resistance_ohm": 2e-4,
                      "series_busbar_resistance_ohm": 2e-4},
        thermal={"layout": "row", "neighbour_conductance_W_per_K": 0.2, "cold_plate_conductance_W_per_K": 0.5},
        bleed_resistance_ohm=30.0,
        variation={"capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 1},
                   "initial_soc": {"kind": "normal", "spread": 0.02, "seed": 2}}).realise()
    cell = params.cell
    return attach(params, {
        "origin": {"kind": "assembled by fmutwin", "converter": f"{__name__}.module_echem_example",
                   "variation": params.variation.model_dump(exclude_none=True)},
        "source_model": pybamm_source(cell.model, cell.parameter_set, None, pybamm.ParameterValues(cell.parameter_set),
                                      options=MODEL_OPTIONS, var_pts="pybamm default",
                                      step={"method": "ROS2 (Verwer et al. 1999)", "substeps": cell.substeps})})
