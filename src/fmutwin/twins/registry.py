"""The twins that can be exported as FMUs: name -> model class, FMU model name, description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from fmutwin.interface import SteppableModel


@dataclass(frozen=True)
class TwinEntry:
    """What the FMI layer needs to know about a twin, and nothing about its physics."""

    model_name: str
    factory: Callable[[Any], SteppableModel]
    description: str
    native_spec: Callable[[], Any] | None = None  # -> fmutwin.interface.NativeSpec (generated-C export)
    #: extra files for the FMU's resources folder: {file name: source path}
    resource_files: Callable[[], dict[str, Any]] | None = None


def _cell_ecm(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_ecm_interface import CellECMModel

    return CellECMModel(resources)


def _cell_ecm_native() -> Any:
    from fmutwin.twins.cell_ecm_interface import native_spec

    return native_spec()


def _cell_ecm_resource_files() -> dict[str, Any]:
    """The parameter file the FMU is built from (the default, or ``FMUTWIN_CELL_PARAMETERS``
    while building): always shipped in its resources, so that at run time the FMU declares and
    runs from it whatever the host's environment or imported fmutwin."""
    from fmutwin.params.defaults import default_cell_file
    from fmutwin.twins.cell_ecm_interface import BUILT_IN_FILE

    return {BUILT_IN_FILE: default_cell_file()}


def _cell_echem(resources: Any) -> SteppableModel:
    from fmutwin.twins.cell_echem_interface import CellEchemModel

    return CellEchemModel(resources)


TWINS: dict[str, TwinEntry] = {
    "cell_ecm": TwinEntry("CellECM", _cell_ecm,
                          "fmutwin cell equivalent-circuit twin (0-3 RC, hysteresis, thermal, aging, faults; "
                          "positive current discharges the cell).", _cell_ecm_native,
                          _cell_ecm_resource_files),
    "cell_echem": TwinEntry("CellEchem", _cell_echem,
                            "fmutwin electrochemical cell twin (PyBaMM SPM/SPMe/DFN; needs PyBaMM in the importing "
                            "Python; positive current discharges the cell)."),
}


def twin_entry(name: str) -> TwinEntry:
    """The registered twin ``name``; a KeyError lists the valid names."""
    try:
        return TWINS[name]
    except KeyError:
        raise KeyError(f"unknown twin {name!r}; known twins: {', '.join(sorted(TWINS))}") from None
