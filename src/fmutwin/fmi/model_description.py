"""Completing a modelDescription from the one declaration, identically for FMI 2.0 and 3.0 and for
the Python (pythonfmu/pythonfmu3) and native exports.

pythonfmu 0.7 writes no units, no min/max and no InitialUnknowns; pythonfmu3 writes units only
on request; neither knows output dependencies. :func:`complete` adds UnitDefinitions (SI base
units), unit/min/max and array starts on every variable, the ModelStructure (outputs with the
inputs they depend on, and the initial unknowns), and the runtime needs in the ``description``.
FMI 2.0 arrays are indexed scalars ``name[i]`` (see :meth:`fmutwin.interface.Variable.element_names`).
"""

from __future__ import annotations

import platform
import sys
from typing import Iterable, Mapping
from xml.etree.ElementTree import Element, SubElement

from fmutwin.fmi.units import unit_definitions
from fmutwin.interface import Variable, flat

RUNTIME_NEEDS = (f"Python FMU: runs inside the importing process's CPython 3 (built with "
                 f"{platform.python_implementation()} {sys.version_info.major}.{sys.version_info.minor}), which "
                 "needs numpy, scipy and pydantic installed; fmutwin itself is carried in resources/. "
                 "A host that is not Python needs libpython preloaded (see `fmutwin env FMU`).")


def _fmt(value: object, var_type: str) -> str:
    if var_type == "Real":
        return repr(float(value))  # the shortest text that reads back as the same double
    if var_type == "Boolean":
        return "true" if value else "false"
    return str(int(value))  # type: ignore[call-overload]


def _base_name(name: str) -> str:
    """``table.ocv.values[3]`` -> ``table.ocv.values`` (FMI 2.0 array elements)."""
    return name.split("[", 1)[0] if name.endswith("]") else name


def complete(root: Element, variables: Iterable[Variable], fmi_version: int, description: str,
             dependencies: Mapping[str, tuple[str, ...]] | None = None) -> Element:
    """Add units, ranges, starts, the ModelStructure and the runtime needs to ``root`` (in place).

    ``dependencies``: for each output, the inputs it depends on directly; None = unknown (no
    ``dependencies`` attribute: every output may depend on every input).
    """
    declared = {v.name: v for v in variables}
    root.set("description", f"{description} {RUNTIME_NEEDS}")
    units = [v.unit for v in declared.values() if v.type == "Real" and v.unit] + ["s"]
    children = list(root)
    after = next(i for i, c in enumerate(children) if c.tag in ("CoSimulation", "ModelExchange"))
    root.insert(after + 1, unit_definitions(units))

    model_variables = root.find("ModelVariables")
    assert model_variables is not None
    positions: dict[str, list[str]] = {}  # declared name -> FMI 2.0 indices / FMI 3.0 value references
    for index, element in enumerate(model_variables, start=1):
        if element.get("causality") == "independent":  # FMI 3.0 time
            element.set("unit", "s")
            continue
        name = element.get("name", "")
        var = declared[_base_name(name)]
        positions.setdefault(var.name, []).append(str(index) if fmi_version == 2 else element.get("valueReference", ""))
        target = element.find(var.type) if fmi_version == 2 else element
        if target is None:
            continue
        if var.type == "Real":
            target.set("unit", var.unit or "1")
            for bound in ("min", "max"):
                value = getattr(var, bound)
                if isinstance(value, (int, float)):  # a bound named by a parameter has no fixed value
                    target.set(bound, _fmt(value, "Real"))
            if fmi_version == 2 and var.unit in ("As", "K"):
                target.set("displayUnit", {"As": "Ah", "K": "degC"}[var.unit])
        elif var.type == "Integer":
            for bound in ("min", "max"):
                value = getattr(var, bound)
                if isinstance(value, (int, float)):
                    target.set(bound, str(int(value)))
        if var.start is not None and var.causality in ("parameter", "input") and var.type != "String":
            starts = flat(var.start)  # pythonfmu3 shortens long array starts: write them whole, in one format
            k = var.element_names().index(name) if (fmi_version == 2 and var.dimensions) else None
            target.set("start", _fmt(starts[k], var.type) if k is not None
                       else " ".join(_fmt(x, var.type) for x in starts))
    _model_structure(root, declared, positions, fmi_version, dependencies)
    return root


def _model_structure(root: Element, declared: dict[str, Variable], positions: dict[str, list[str]],
                     fmi_version: int, dependencies: Mapping[str, tuple[str, ...]] | None) -> None:
    """Outputs (with the inputs each depends on) and initial unknowns, written anew."""
    structure = root.find("ModelStructure")
    if structure is None:
        structure = SubElement(root, "ModelStructure")
    for child in list(structure):
        structure.remove(child)
    outputs = [v for v in declared.values() if v.causality == "output"]

    def depends(var: Variable) -> dict[str, str]:
        if dependencies is None or var.name not in dependencies:
            return {}
        return {"dependencies": " ".join(p for name in dependencies[var.name] for p in positions.get(name, []))}

    key = "index" if fmi_version == 2 else "valueReference"
    if fmi_version == 2:
        unknowns = [(p, var) for var in outputs for p in positions.get(var.name, [])]
        unknowns.sort(key=lambda item: int(item[0]))
        if unknowns:
            node = SubElement(structure, "Outputs")
            for p, var in unknowns:
                SubElement(node, "Unknown", {key: p, **depends(var)})
            initial = SubElement(structure, "InitialUnknowns")
            for p, var in unknowns:
                SubElement(initial, "Unknown", {key: p})
        return
    for tag, with_dependencies in (("Output", True), ("InitialUnknown", False)):
        for var in outputs:
            for p in positions.get(var.name, []):
                SubElement(structure, tag, {key: p, **(depends(var) if with_dependencies else {})})
