"""The flagship pack of the README's co-simulation: 96s4p of an ECM reduced from PyBaMM's DFN.

The cell (``data/chen2020_dfn_50Ah.json``) is what ``fmutwin reduce`` made of PyBaMM's DFN with
the Chen2020 parameter set (LG M50 chemistry and electrode design) scaled to a 50 Ah large-format
cell: electrode height x10 (0.65 m), and the cell's volume and cooling area x10 (ten 21700 cells'
worth), so the per-area physics is Chen2020's and every C-rate means the same; fitted at 0, 15,
25 and 40 degC (the reduction's configuration and its validation are in the file's provenance
record). 96s4p of it is a 200 Ah, about 70 kWh pack: WLTC's 43 kW peak is about 0.6C and its
-26 kW regen about 0.4C, the C-rates of a passenger EV's pack on that cycle, well inside the
1.6C the ECM is fitted to.

Every file here is re-made by the function beside it (a test compares): the module design
(:func:`flagship_module`, 12s4p, capacity 2 % / R0 5 % / initial SoC 0.5 % variation, drawn
per module instance over the whole pack by :func:`flagship_pack`), the pack
(:func:`flagship_pack`: 8 modules on the shipped pack thermal system) and the BMS of all 96
series elements (:func:`flagship_bms`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fmutwin.params.bms import BmsParameters
from fmutwin.params.cell import CellParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.params.pack import PackParameters

CELL_FILE = "chen2020_dfn_50Ah.json"
MODULE_FILE = "flagship_module_12s4p.json"
BMS_FILE = "flagship_bms_96s4p.json"
N_MODULES = 8


def data_file(name: str) -> Path:
    return Path(str(resources.files("fmutwin.params") / "data" / name))


def flagship_cell() -> CellParameters:
    """The reduced 50 Ah cell, starting at 90 % SoC and 25 degC."""
    return CellParameters.load(data_file(CELL_FILE)).with_changes(initial={"soc": 0.9, "temperature_K": 298.15})


def flagship_module(cell: CellParameters) -> ModuleParameters:
    """12 series elements of 4 parallel ``cell`` cells; the variation is drawn over the pack."""
    from fmutwin.provenance import attach, file_reference

    params = ModuleParameters(
        name="flagship_module_12s4p",
        source=(f"fmutwin flagship: 12 series elements of 4 parallel cells of the reduced cell {cell.name!r}, 2 % "
                "capacity, 5 % R0 and 0.5 % initial SoC variation (seeded normal), tab 0.1 mOhm, busbar segments "
                "50 uOhm (parallel) and 0.1 mOhm (series), cells in a grid of 4 columns conducting 1 W/K to their "
                "neighbours and 3 W/K to the cold plate; illustrative values, not a particular module."),
        cell=cell, n_series=12, n_parallel=4,
        interconnect={"tab_resistance_ohm": 1e-4, "parallel_busbar_resistance_ohm": 5e-5,
                      "series_busbar_resistance_ohm": 1e-4},
        thermal={"layout": "grid", "columns": 4, "neighbour_conductance_W_per_K": 1.0,
                 "cold_plate_conductance_W_per_K": 3.0},
        bleed_resistance_ohm=30.0,
        variation={"capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 11},
                   "r0_scale": {"kind": "normal", "spread": 0.05, "seed": 12},
                   "initial_soc": {"kind": "normal", "spread": 0.005, "seed": 13}})
    return attach(params, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.flagship_module",
        "cell": file_reference(cell)}})


def flagship_pack(module: ModuleParameters) -> PackParameters:
    """8 ``module`` modules in series on the shipped pack thermal system, variation drawn over all
    384 cells (cell c of the pack: cell c % 48 of module c // 48)."""
    from fmutwin.params.defaults import default_pack_thermal_parameters
    from fmutwin.provenance import attach, content_sha256

    thermal = default_pack_thermal_parameters()
    pack = PackParameters(
        name=f"flagship_pack_{N_MODULES * module.n_series}s{module.n_parallel}p",
        source=f"fmutwin flagship: {N_MODULES} modules {module.name!r} in series on the thermal system "
               f"{thermal.name!r}",
        module=module.model_copy(update={"realised": None, "provenance": None}), n_modules=N_MODULES,
        thermal=thermal).realise()
    return attach(pack, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.flagship_pack",
        "module": {"name": module.name, "content_sha256": content_sha256(module)},
        "thermal": {"name": thermal.name, "content_sha256": content_sha256(thermal)}}})


def flagship_bms(cell: CellParameters) -> BmsParameters:
    """The BMS of all 96 series elements of 4 parallel ``cell`` cells, EKF, default settings
    otherwise; it starts from the SoC of the OCV at the first measured voltages."""
    from fmutwin.provenance import attach, file_reference

    params = BmsParameters(
        name="flagship_bms_96s4p",
        source=(f"fmutwin flagship: the BMS of the 96s4p pack of the reduced cell {cell.name!r}; EKF, every setting "
                "at its default"),
        cell=cell, n_series=N_MODULES * 12, n_parallel=4)
    return attach(params, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.flagship_bms",
        "cell": file_reference(cell)}})


def flagship_module_parameters() -> ModuleParameters:
    return ModuleParameters.load(data_file(MODULE_FILE))


def flagship_pack_parameters() -> PackParameters:
    return flagship_pack(flagship_module_parameters())


def flagship_bms_parameters() -> BmsParameters:
    return BmsParameters.load(data_file(BMS_FILE))
