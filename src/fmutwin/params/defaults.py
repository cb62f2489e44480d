"""The parameter sets shipped with fmutwin (data files in ``fmutwin/params/data``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fmutwin.params.cell import CellParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.params.pack import PackThermalParameters

DEFAULT_CELL_FILE = "pybamm_ecm_example.json"
DEFAULT_MODULE_FILE = "module_example.json"
DEFAULT_PACK_THERMAL_FILE = "pack_thermal_example.json"
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


def default_pack_thermal_file() -> Path:
    """The shipped example pack thermal system: 8 modules on cold plates in one water-glycol loop."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_PACK_THERMAL_FILE))


def default_pack_thermal_parameters() -> PackThermalParameters:
    return PackThermalParameters.load(default_pack_thermal_file())
