"""The parameter sets shipped with fmutwin (data files in ``fmutwin/params/data``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fmutwin.params.bms import BmsParameters
from fmutwin.params.cell import CellParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.params.module_echem import ModuleEchemParameters
from fmutwin.params.pack import PackParameters, PackThermalParameters

DEFAULT_CELL_FILE = "pybamm_ecm_example.json"
DEFAULT_MODULE_FILE = "module_example.json"
DEFAULT_PACK_THERMAL_FILE = "pack_thermal_example.json"
DEFAULT_MODULE_ECHEM_FILE = "module_echem_example.json"
DEFAULT_BMS_FILE = "bms_example.json"
DEFAULT_CELL_ECHEM_FILE = "cell_echem_spme.json"
#: environment variable naming the parameter file to build FMUs from (read when the cell twin's
#: variables are declared, so set it before that import: ``fmutwin build --parameters`` does)
CELL_FILE_ENV = "FMUTWIN_CELL_PARAMETERS"


def default_cell_file() -> Path:
    """The default cell parameter file: the one named by ``FMUTWIN_CELL_PARAMETERS`` (set while
    building FMUs from a given file), else the shipped PyBaMM ECM example."""
    if os.environ.get(CELL_FILE_ENV):
        return Path(os.environ[CELL_FILE_ENV])
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_CELL_FILE))


def default_cell_parameters() -> CellParameters:
    """The parameters of :func:`default_cell_file`; by default PyBaMM's ECM example (100 Ah,
    1 RC pair, lumped thermal), see its ``source`` field."""
    return CellParameters.load(default_cell_file())


def default_module_file() -> Path:
    """The shipped example module: 12s4p of the shipped cell, made by
    :func:`fmutwin.params.module_example.module_example` (see its ``source`` field)."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_MODULE_FILE))


def default_module_parameters() -> ModuleParameters:
    return ModuleParameters.load(default_module_file())


def default_module_echem_file() -> Path:
    """The shipped example module of electrochemical cells: 4s2p of PyBaMM's SPMe with Chen2020
    (LG M50 21700, 5 Ah), 2 % capacity and 2 % SOC variation, on a cold plate (see its ``source``)."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_MODULE_ECHEM_FILE))


def default_module_echem_parameters() -> ModuleEchemParameters:
    return ModuleEchemParameters.load(default_module_echem_file())


def default_cell_echem_file() -> Path:
    """The shipped native electrochemical cell: PyBaMM's SPMe with Chen2020, isothermal, SDIRK2."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_CELL_ECHEM_FILE))


def default_bms_file() -> Path:
    """The shipped example BMS: that of the shipped 12s4p module, made by
    :func:`fmutwin.params.bms_example.bms_example` from the shipped cell."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_BMS_FILE))


def default_bms_parameters() -> BmsParameters:
    return BmsParameters.load(default_bms_file())


def default_pack_thermal_file() -> Path:
    """The shipped example pack thermal system: 8 modules on cold plates in one water-glycol loop."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_PACK_THERMAL_FILE))


def default_pack_thermal_parameters() -> PackThermalParameters:
    return PackThermalParameters.load(default_pack_thermal_file())


def default_pack_parameters() -> PackParameters:
    """The example pack: 8 of the shipped 12s4p modules in series (96s4p, 384 cells) on the shipped
    pack thermal system, the module's variation drawn over the whole pack, with a provenance
    record naming both files' content hashes."""
    from fmutwin.provenance import attach, content_sha256

    module, thermal = default_module_parameters(), default_pack_thermal_parameters()
    pack = PackParameters(
        name=f"pack_example_{thermal.n_modules * module.n_series}s{module.n_parallel}p",
        source=(f"fmutwin example: {thermal.n_modules} modules {module.name!r} in series on the thermal system "
                f"{thermal.name!r}; illustrative values, not a particular pack."),
        module=module.model_copy(update={"realised": None}), n_modules=thermal.n_modules, thermal=thermal).realise()
    return attach(pack, {"origin": {
        "kind": "assembled by fmutwin", "converter": f"{__name__}.default_pack_parameters",
        "module": {"name": module.name, "content_sha256": content_sha256(module)},
        "thermal": {"name": thermal.name, "content_sha256": content_sha256(thermal)}}})
