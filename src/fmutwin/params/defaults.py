"""The parameter set shipped with fmutwin (data file in ``fmutwin/params/data``)."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fmutwin.params.cell import CellParameters

DEFAULT_CELL_FILE = "pybamm_ecm_example.json"
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
