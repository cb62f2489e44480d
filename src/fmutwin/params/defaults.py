"""The parameter set shipped with fmutwin (data file in ``fmutwin/params/data``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fmutwin.params.cell import CellParameters

DEFAULT_CELL_FILE = "pybamm_ecm_example.json"


def default_cell_file() -> Path:
    """Path of the default cell parameter file inside the installed package."""
    return Path(str(resources.files("fmutwin.params") / "data" / DEFAULT_CELL_FILE))


def default_cell_parameters() -> CellParameters:
    """PyBaMM's ECM example (100 Ah, 1 RC pair, lumped thermal), see its ``source`` field."""
    return CellParameters.load(default_cell_file())
