"""SI units of declared variables as FMI UnitDefinitions (identical in FMI 2.0 and 3.0)."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement

# exponents of the SI base units (kg, m, s, A, K, mol, cd)
SI_UNITS: dict[str, dict[str, int]] = {
    "1": {},
    "s": {"s": 1},
    "A": {"A": 1},
    "K": {"K": 1},
    "V": {"kg": 1, "m": 2, "s": -3, "A": -1},
    "W": {"kg": 1, "m": 2, "s": -3},
    "J": {"kg": 1, "m": 2, "s": -2},
    "As": {"s": 1, "A": 1},
    "Ohm": {"kg": 1, "m": 2, "s": -3, "A": -2},
    "J/K": {"kg": 1, "m": 2, "s": -2, "K": -1},
    "W/K": {"kg": 1, "m": 2, "s": -3, "K": -1},
    "V/K": {"kg": 1, "m": 2, "s": -3, "A": -1, "K": -1},
    "F": {"kg": -1, "m": -2, "s": 4, "A": 2},
    "S": {"kg": -1, "m": -2, "s": 3, "A": 2},
    "kg/s": {"kg": 1, "s": -1},
    "J/(kg.K)": {"m": 2, "s": -2, "K": -1},
    "J/mol": {"kg": 1, "m": 2, "s": -2, "mol": -1},
    "mol/m3": {"mol": 1, "m": -3},
}

# display units an importer may offer (name, factor to the SI unit, offset)
DISPLAY_UNITS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "As": (("Ah", 3600.0, 0.0),),
    "K": (("degC", 1.0, 273.15),),
}


_BASE = ("kg", "m", "s", "A", "K", "mol", "cd")


def si_exponents(name: str) -> dict[str, int]:
    """The SI base-unit exponents of a unit: one of :data:`SI_UNITS`, or a product written as
    PyBaMM writes units, factors with integer powers joined by dots (``"m2.s-1"``,
    ``"mol.m-3"``, ``"A.m-2"``), each factor a base unit or a unit of :data:`SI_UNITS`."""
    if name in SI_UNITS:
        return dict(SI_UNITS[name])
    total: dict[str, int] = {}
    for factor in name.split("."):
        match = re.fullmatch(r"([A-Za-z]+)(-?\d+)?", factor)
        if not match or not (match.group(1) in _BASE or match.group(1) in SI_UNITS):
            raise ValueError(f"unit {name!r} has no SI definition: {factor!r} is neither an SI base unit nor one "
                             "of fmutwin.fmi.units.SI_UNITS")
        power = int(match.group(2) or 1)
        parts = {match.group(1): 1} if match.group(1) in _BASE else SI_UNITS[match.group(1)]
        for base, exponent in parts.items():
            total[base] = total.get(base, 0) + power * exponent
    return {k: v for k, v in total.items() if v}


def unit_definitions(units: list[str]) -> Element:
    """A ``<UnitDefinitions>`` element for the given unit names (SI base-unit exponents)."""
    root = Element("UnitDefinitions")
    for name in sorted(set(units)):
        unit = SubElement(root, "Unit", name=name)
        SubElement(unit, "BaseUnit", {k: str(v) for k, v in si_exponents(name).items()})
        for display, factor, offset in DISPLAY_UNITS.get(name, ()):
            attrib = {"name": display, "factor": repr(1.0 / factor)}
            if offset:
                attrib["offset"] = repr(-offset)
            SubElement(unit, "DisplayUnit", attrib)
    return root
