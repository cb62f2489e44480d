"""Conformance checks of an FMU file, naming the variable or line of every problem.

1. the archive opens and holds a modelDescription.xml that parses;
2. the modelDescription validates against the FMI XSD of its version (fmpy ships the schemas);
3. ``fmpy.validation.validate_fmu`` (names, model structure, start values, causality/variability);
4. units: every Real/Float64 variable has a unit, and every unit used is defined.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from lxml import etree

SCHEMA_FILES = {"2.0": ("fmi2", "fmi2ModelDescription.xsd"), "3.0": ("fmi3", "fmi3ModelDescription.xsd")}


def _schema(version: str) -> etree.XMLSchema:
    import fmpy

    folder, name = SCHEMA_FILES[version]
    return etree.XMLSchema(etree.parse(str(Path(fmpy.__file__).parent / "schema" / folder / name)))


def read_model_description_xml(path: str | Path) -> bytes:
    """The raw modelDescription.xml of an FMU file; ValueError with the reason if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read("modelDescription.xml")
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not an FMU (not a zip archive)") from None
    except KeyError:
        raise ValueError(f"{path}: the archive has no modelDescription.xml") from None


def check_fmu(path: str | Path) -> list[str]:
    """Every problem found in the FMU at ``path`` (an empty list means clean)."""
    try:
        raw = read_model_description_xml(path)
        root = etree.fromstring(raw)
    except ValueError as exc:
        return [str(exc)]
    except etree.XMLSyntaxError as exc:
        return [f"modelDescription.xml is not well-formed XML: {exc}"]
    version = root.get("fmiVersion", "")
    if version not in SCHEMA_FILES:
        return [f"fmiVersion {version!r}: fmutwin checks FMI 2.0 and 3.0 only"]
    problems = _xsd_errors(root, version)
    from fmpy.validation import validate_fmu

    problems += [f"fmpy: {p}" for p in validate_fmu(str(path))]
    problems += _unit_problems(root, version)
    return problems


def _xsd_errors(root: etree._Element, version: str) -> list[str]:
    schema = _schema(version)
    if schema.validate(root):
        return []
    return [f"XSD (FMI {version}): line {e.line}: {e.message}" for e in schema.error_log]


def _unit_problems(root: etree._Element, version: str) -> list[str]:
    defined = {u.get("name") for u in root.iterfind("UnitDefinitions/Unit")}
    problems = []
    if version == "2.0":
        reals = [(sv.get("name"), sv.find("Real")) for sv in root.iterfind("ModelVariables/ScalarVariable")
                 if sv.find("Real") is not None]
    else:
        reals = [(v.get("name"), v) for v in root.iterfind("ModelVariables/Float64")]
    for name, element in reals:
        unit = element.get("unit")
        if unit is None:
            problems.append(f"variable {name}: no unit (use '1' for a dimensionless quantity)")
        elif unit not in defined:
            problems.append(f"variable {name}: unit {unit!r} is not in UnitDefinitions")
    return problems
