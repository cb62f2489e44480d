"""The exportable twins: the composition root that binds twins to the FMI layer.

``fmutwin.fmi`` knows no twin: it receives a :class:`fmutwin.interface.TwinExport` from here (the
command line, ``build_fmus.py`` and each thin slave source in ``fmu_sources/`` look twins up in
:data:`TWINS`). Adding a twin to the FMUs is one entry here, its declaration and model, and a
thin ``fmu_sources/<name>.py``; see docs/adding_a_twin.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmutwin.interface import EquationSpec, SteppableModel, TwinExport


#: the name of the cell parameter file in a cell FMU's resources folder
CELL_PARAMETER_FILE = "cell_parameters.json"


def _cell_ecm(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_ecm_interface import CellECMModel

    return CellECMModel(Path(resources) / CELL_PARAMETER_FILE if resources else None)


def _cell_ecm_equations() -> EquationSpec:
    from fmutwin.twins.cell_ecm_interface import equation_spec

    return equation_spec()


def _cell_ecm_file() -> Path:
    """The cell parameter file the FMUs are built from: the default, or ``FMUTWIN_CELL_PARAMETERS``
    while ``fmutwin build --parameters`` runs. Shipped in every cell FMU, which declares and runs
    from it whatever the host's environment or imported fmutwin."""
    from fmutwin.params.defaults import default_cell_file

    return default_cell_file()


def _cell_echem(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_echem_interface import CellEchemModel

    return CellEchemModel(resources)


TWINS: dict[str, TwinExport] = {
    "cell_ecm": TwinExport(
        "cell_ecm", "CellECM", "fmutwin cell equivalent-circuit twin (0-3 RC, hysteresis, thermal, aging, faults; "
        "positive current discharges the cell).", _cell_ecm, _cell_ecm_equations, _cell_ecm_file, CELL_PARAMETER_FILE),
    "cell_echem": TwinExport(
        "cell_echem", "CellEchem", "fmutwin electrochemical cell twin (PyBaMM SPM/SPMe/DFN; needs PyBaMM in the "
        "importing Python; positive current discharges the cell).", _cell_echem),
}


def twin(name: str) -> TwinExport:
    """The registered twin ``name``; a KeyError lists the valid names."""
    try:
        return TWINS[name]
    except KeyError:
        raise KeyError(f"unknown twin {name!r}; known twins: {', '.join(sorted(TWINS))}") from None


def load_parameter_file(data: Any, origin: str) -> Any:
    """Validate a parameter file's JSON data as the kind of file it is (today fmutwin has one
    kind, the cell parameter file); a ValueError names every bad field."""
    from fmutwin.params.cell import CellParameters

    return CellParameters.from_dict(data, origin=origin)
