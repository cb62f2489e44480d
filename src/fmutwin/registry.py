"""The exportable twins: the composition root that binds twins to the FMI layer.

``fmutwin.fmi`` knows no twin: it receives a :class:`fmutwin.interface.TwinExport` from here (the
command line, ``build_fmus.py`` and each thin slave source in ``fmu_sources/`` look twins up in
:data:`TWINS`). Adding a twin to the FMUs is one entry here, its declaration and model, and a
thin ``fmu_sources/<name>.py``; see docs/adding_a_twin.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fmutwin.interface import EquationSpec, SteppableModel, TwinExport


#: the name of the cell parameter file in a cell FMU's resources folder
CELL_PARAMETER_FILE = "cell_parameters.json"


def _shipped_file(resources: Any, name: str) -> Path | None:
    """The parameter file a Python FMU runs from: in its resources folder, or while it is being
    built (its resources do not hold the file yet) the one the builder names."""
    if resources and (Path(resources) / name).is_file():
        return Path(resources) / name
    from fmutwin.fmi.build import BUILD_FILE_ENV

    return Path(os.environ[BUILD_FILE_ENV]) if os.environ.get(BUILD_FILE_ENV) else None


def _cell_ecm(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_ecm_interface import CellECMModel

    return CellECMModel(_shipped_file(resources, CELL_PARAMETER_FILE))


def _cell_ecm_equations() -> EquationSpec:
    from fmutwin.twins.cell_ecm_interface import equation_spec

    return equation_spec()


def _cell_ecm_file() -> Path:
    """The cell parameter file the FMUs are built from: the default, or ``FMUTWIN_CELL_PARAMETERS``
    while ``fmutwin build --parameters`` runs. Shipped in every cell FMU, which declares and runs
    from it whatever the host's environment or imported fmutwin."""
    from fmutwin.params.defaults import default_cell_file

    return default_cell_file()


#: the name of the module parameter file in a module FMU's resources folder
MODULE_PARAMETER_FILE = "module_parameters.json"


def _module_spec(resources: Any = None) -> EquationSpec:
    from fmutwin.twins.module_interface import module_file_spec

    return module_file_spec(_shipped_file(resources, MODULE_PARAMETER_FILE))


def _module(resources: Any) -> SteppableModel:
    from fmutwin.twins.equation_model import EquationModel

    return EquationModel(_module_spec(resources))


def _module_file() -> Path:
    from fmutwin.params.defaults import default_module_file

    return default_module_file()


#: the name of the pack-thermal parameter file in a PackThermal FMU's resources folder
PACK_THERMAL_PARAMETER_FILE = "pack_thermal_parameters.json"


def _pack_thermal_spec(resources: Any = None) -> EquationSpec:
    from fmutwin.twins.pack_thermal_interface import pack_thermal_file_spec

    return pack_thermal_file_spec(_shipped_file(resources, PACK_THERMAL_PARAMETER_FILE))


def _pack_thermal(resources: Any) -> SteppableModel:
    from fmutwin.twins.equation_model import EquationModel

    return EquationModel(_pack_thermal_spec(resources))


def _pack_thermal_file() -> Path:
    from fmutwin.params.defaults import default_pack_thermal_file

    return default_pack_thermal_file()


def _cell_echem(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_echem_interface import CellEchemModel

    return CellEchemModel(resources)


#: the name of the electrochemical cell file in a CellEchem FMU's resources folder
CELL_ECHEM_PARAMETER_FILE = "cell_echem_parameters.json"


def _cell_echem_spec() -> EquationSpec:
    """The native electrochemical cell's equations, from the file it is being built from."""
    from fmutwin.twins.cell_echem_native_interface import cell_echem_file_spec

    return cell_echem_file_spec(_shipped_file(None, CELL_ECHEM_PARAMETER_FILE))


def _cell_echem_file(path: Path | None = None) -> Path:
    """The electrochemical cell file the FMUs are built from (the shipped SPMe, or ``path``),
    with the build's record as its provenance: PyBaMM version, model, options, mesh,
    parameter-set hash, scheme (the native FMU fixes them when it is generated)."""
    from fmutwin.params.defaults import default_cell_echem_file
    from fmutwin.twins.cell_echem_native_interface import recorded_file

    return recorded_file(Path(path) if path else default_cell_echem_file())


#: the name of the module file in an electrochemical module FMU's resources folder
MODULE_ECHEM_PARAMETER_FILE = "module_echem_parameters.json"


def _module_echem(resources: Any) -> SteppableModel:
    from fmutwin.twins.module_echem_interface import ModuleEchemModel

    return ModuleEchemModel(_shipped_file(resources, MODULE_ECHEM_PARAMETER_FILE))


def _module_echem_spec() -> EquationSpec:
    from fmutwin.twins.module_echem_interface import module_echem_file_spec

    return module_echem_file_spec(_shipped_file(None, MODULE_ECHEM_PARAMETER_FILE))


def _module_echem_file() -> Path:
    from fmutwin.params.defaults import default_module_echem_file

    return default_module_echem_file()


#: the name of the BMS file in a BMS FMU's resources folder
BMS_PARAMETER_FILE = "bms_parameters.json"


def _bms_spec(resources: Any = None) -> EquationSpec:
    from fmutwin.twins.bms_interface import bms_file_spec

    return bms_file_spec(_shipped_file(resources, BMS_PARAMETER_FILE))


def _bms(resources: Any) -> SteppableModel:
    from fmutwin.twins.equation_model import EquationModel

    return EquationModel(_bms_spec(resources))


def _bms_file() -> Path:
    from fmutwin.params.defaults import default_bms_file

    return default_bms_file()


def _power_load_spec() -> EquationSpec:
    from fmutwin.twins.power_load_interface import equation_spec

    return equation_spec()


def _power_load(resources: Any) -> SteppableModel:
    from fmutwin.twins.equation_model import EquationModel

    return EquationModel(_power_load_spec())


TWINS: dict[str, TwinExport] = {
    "cell_ecm": TwinExport(
        "cell_ecm", "CellECM", "fmutwin cell equivalent-circuit twin (0-3 RC, hysteresis, thermal, aging, faults; "
        "positive current discharges the cell).", _cell_ecm, _cell_ecm_equations, _cell_ecm_file, CELL_PARAMETER_FILE),
    "module": TwinExport(
        "module", "Module", "fmutwin module twin (Ns x Np cell ECMs, exact current split, interconnects, balancing "
        "bleed resistors, thermal network with a cold plate; positive current discharges the module).", _module,
        _module_spec, _module_file, MODULE_PARAMETER_FILE),
    "pack_thermal": TwinExport(
        "pack_thermal", "PackThermal", "fmutwin pack thermal twin (module cold plates in one coolant loop, an "
        "enclosure node; zero coolant flow is valid).", _pack_thermal, _pack_thermal_spec, _pack_thermal_file,
        PACK_THERMAL_PARAMETER_FILE),
    "cell_echem": TwinExport(
        "cell_echem", "CellEchem", "fmutwin electrochemical cell twin (PyBaMM SPM/SPMe/DFN; the Python FMU needs "
        "PyBaMM in the importing Python, the native FMU is the file's SPM/SPMe as generated C; positive current "
        "discharges the cell).", _cell_echem, _cell_echem_spec, _cell_echem_file, CELL_ECHEM_PARAMETER_FILE),
    "module_echem": TwinExport(
        "module_echem", "ModuleEchem", "fmutwin module of electrochemical cells (Ns x Np PyBaMM SPM/SPMe cells, exact "
        "current split at the end of each step, interconnects, balancing bleed resistors, thermal network; the "
        "Python FMU needs PyBaMM, CasADi and gcc in the importing Python, the native FMU is generated C; positive "
        "current discharges the module).", _module_echem, _module_echem_spec, _module_echem_file,
        MODULE_ECHEM_PARAMETER_FILE),
    "bms": TwinExport(
        "bms", "Bms", "fmutwin BMS twin (SoC per series element by EKF / UKF / adaptive filter on the cell equations, "
        "current and power limits, CC-CV charge request, passive balancing, debounced alarms, capacity from rest to "
        "rest; positive current discharges the pack).", _bms, _bms_spec, _bms_file, BMS_PARAMETER_FILE),
    "power_load": TwinExport(
        "power_load", "PowerLoad", "fmutwin power load: a pack power demand (positive = discharge) to the current of "
        "modules in series, from their measured voltages, within the BMS's charge and discharge current limits.",
        _power_load, _power_load_spec),
}


def twin(name: str) -> TwinExport:
    """The registered twin ``name``; a KeyError lists the valid names."""
    try:
        return TWINS[name]
    except KeyError:
        raise KeyError(f"unknown twin {name!r}; known twins: {', '.join(sorted(TWINS))}") from None


def twin_for_file(path: str | Path) -> TwinExport:
    """The twin whose FMUs a parameter file makes (a module, pack-thermal, BMS or electrochemical
    module file), built from that file: the registry entry with the file as its parameter file.
    A bad file raises ParameterError naming the field; a cell file is built through
    ``FMUTWIN_CELL_PARAMETERS`` instead (``fmutwin build --parameters``)."""
    import dataclasses
    import json

    from fmutwin.params.bms import BmsParameters
    from fmutwin.params.cell_echem import EchemCellParameters
    from fmutwin.params.module import ModuleParameters
    from fmutwin.params.module_echem import ModuleEchemParameters
    from fmutwin.params.pack import PackThermalParameters

    path = Path(path).resolve()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON parameter file ({exc})") from None
    params = load_parameter_file(data, str(path))
    kinds = {ModuleEchemParameters: "module_echem", ModuleParameters: "module", PackThermalParameters: "pack_thermal",
             BmsParameters: "bms"}
    if isinstance(params, EchemCellParameters):
        return dataclasses.replace(TWINS["cell_echem"], parameter_file=lambda: _cell_echem_file(path))
    name = next((n for cls, n in kinds.items() if isinstance(params, cls)), None)
    if name is None:
        raise ValueError(f"{path}: a {type(params).__name__} file; a cell file builds the cell_ecm twin")
    return dataclasses.replace(TWINS[name], parameter_file=lambda: path)


def load_parameter_file(data: Any, origin: str) -> Any:
    """Validate a parameter file's JSON data as the kind of file it is (a BMS file says so in its
    ``kind``; a module file holds
    ``n_series``, of electrochemical cells when its cell names a ``model``; a pack-thermal file
    ``n_modules``; else a cell parameter file); a ValueError
    names every bad field."""
    from fmutwin.params.bms import BmsParameters
    from fmutwin.params.cell import CellParameters
    from fmutwin.params.cell_echem import EchemCellParameters
    from fmutwin.params.module import ModuleParameters
    from fmutwin.params.module_echem import ModuleEchemParameters
    from fmutwin.params.pack import PackThermalParameters

    if isinstance(data, dict) and data.get("kind") == "bms":
        return BmsParameters.from_dict(data, origin=origin)
    if isinstance(data, dict) and data.get("kind") == "cell_echem":
        return EchemCellParameters.from_dict(data, origin=origin)
    if isinstance(data, dict) and "n_series" in data and isinstance(data.get("cell"), dict) and "model" in data["cell"]:
        return ModuleEchemParameters.from_dict(data, origin=origin)
    if isinstance(data, dict) and "n_series" in data:
        return ModuleParameters.from_dict(data, origin=origin)
    if isinstance(data, dict) and "n_modules" in data:
        return PackThermalParameters.from_dict(data, origin=origin)
    return CellParameters.from_dict(data, origin=origin)
