"""Completing the modelDescription that pythonfmu/pythonfmu3 write, from the one declaration.

pythonfmu 0.7 writes no units, no min/max and no InitialUnknowns; pythonfmu3 writes units only
on request. :func:`complete` adds, identically for both versions: UnitDefinitions (SI base
units), unit/min/max on every Real/Float64 variable, InitialUnknowns for FMI 2.0, and the
runtime needs in the model description's ``description``.
"""

from __future__ import annotations

import platform
import sys
from typing import Iterable
from xml.etree.ElementTree import Element, SubElement

from fmutwin.fmi.units import unit_definitions
from fmutwin.interface import Variable

RUNTIME_NEEDS = (f"Python FMU: runs inside the importing process's CPython 3 (built with "
                 f"{platform.python_implementation()} {sys.version_info.major}.{sys.version_info.minor}), which "
                 "needs numpy, scipy and pydantic installed; fmutwin itself is carried in resources/. "
                 "A host that is not Python needs libpython preloaded (see `fmutwin env FMU`).")


def _fmt(value: float) -> str:
    return f"{value:.16g}"


def _flat(value: object) -> list[object]:
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flat(item)]
    return [value]


def complete(root: Element, variables: Iterable[Variable], fmi_version: int, description: str) -> Element:
    """Add units, ranges, InitialUnknowns and the runtime needs to ``root`` (in place)."""
    declared = {v.name: v for v in variables}
    root.set("description", f"{description} {RUNTIME_NEEDS}")
    units = [v.unit for v in declared.values() if v.type == "Real" and v.unit] + ["s"]
    children = list(root)
    after = next(i for i, c in enumerate(children) if c.tag in ("CoSimulation", "ModelExchange"))
    root.insert(after + 1, unit_definitions(units))

    model_variables = root.find("ModelVariables")
    assert model_variables is not None
    for element in model_variables:
        if element.get("causality") == "independent":  # FMI 3.0 time
            element.set("unit", "s")
            continue
        var = declared[element.get("name", "")]
        target = element.find("Real") if fmi_version == 2 else element
        if var.type != "Real" or target is None:
            continue
        target.set("unit", var.unit or "1")
        if var.min is not None:
            target.set("min", _fmt(var.min))
        if var.max is not None:
            target.set("max", _fmt(var.max))
        if var.dimensions:  # pythonfmu3 shortens long array starts; write them whole
            target.set("start", " ".join(_fmt(float(x)) for x in _flat(var.start)))
        if fmi_version == 2 and var.unit in ("As", "K"):
            target.set("displayUnit", {"As": "Ah", "K": "degC"}[var.unit])

    if fmi_version == 2:
        structure = root.find("ModelStructure")
        assert structure is not None
        unknowns = [i for i, e in enumerate(model_variables, start=1)
                    if declared[e.get("name", "")].causality in ("output", "calculatedParameter")]
        if unknowns:
            initial = SubElement(structure, "InitialUnknowns")
            for i in unknowns:
                SubElement(initial, "Unknown", index=str(i))
    return root
