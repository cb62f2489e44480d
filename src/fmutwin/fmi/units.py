"""SI units of declared variables as FMI UnitDefinitions (identical in FMI 2.0 and 3.0)."""

from __future__ import annotations

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


def unit_definitions(units: list[str]) -> Element:
    """A ``<UnitDefinitions>`` element for the given unit names (SI base-unit exponents)."""
    root = Element("UnitDefinitions")
    for name in sorted(set(units)):
        if name not in SI_UNITS:
            raise ValueError(f"unit {name!r} has no SI definition in fmutwin.fmi.units.SI_UNITS")
        unit = SubElement(root, "Unit", name=name)
        SubElement(unit, "BaseUnit", {k: str(v) for k, v in SI_UNITS[name].items()})
        for display, factor, offset in DISPLAY_UNITS.get(name, ()):
            attrib = {"name": display, "factor": repr(1.0 / factor)}
            if offset:
                attrib["offset"] = repr(-offset)
            SubElement(unit, "DisplayUnit", attrib)
    return root
