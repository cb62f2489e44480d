"""SSP 1.0 archives of a system: what other co-simulation tools (libcosim, ecos, fmpy, SSP-aware
Modelica and Simulink tools) import.

:func:`export_ssp` writes ``SystemStructure.ssd`` (every connection expanded to scalar connectors,
as SSP 1.0 names them; every connector declared with its type and unit, the units defined by
their SI base units), the FMUs under ``resources/`` and each component's parameter values as
``resources/<component>.ssv`` (array values as their elements ``x[1]`` .. ``x[n]``: a module's
realised cell variation included). The XML is built with lxml and validated against the SSP 1.0
XSDs that fmpy ships before the archive is written.

Importer quirks met at once (measured with libcosim, ecos and fmpy): the ``ssd:`` prefix is used
literally, every connector declares its type, every component has
``type="application/x-fmu-sharedlibrary"``, the version is "1.0", and an input that is not
connected gets no connector (fmpy's reader fails on one): its value is in the ``.ssv`` file,
which importers apply by variable name.

SSP 1.0 connectors cannot name an element of an FMI 3.0 array, so a system whose connections or
parameters use FMI 3.0 arrays is refused (build its FMUs as FMI 2.0, whose arrays are the
scalars ``x[i]``). :func:`open_ssp` unpacks an archive and reads it back as a :class:`System`.
"""

from __future__ import annotations

import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from lxml import etree

from fmutwin.atomic import atomic_write

from fmutwin.cosim.system import Connector, Interface, System, SystemError, array_size, load, parameter_set, \
    resolve, ssd_tree, to_xml

SSD_NAME = "SystemStructure.ssd"


def export_ssp(system: System, path: str | Path, base: Path | None = None) -> Path:
    """Write ``system`` (FMU paths relative to ``base``, default the working directory) as the SSP
    archive ``path``; a :class:`SystemError` names what SSP 1.0 cannot express."""
    resolved = resolve(system, base)
    base = Path(base) if base is not None else Path.cwd()
    flat = System(system.name, start_s=system.start_s, stop_s=system.stop_s, step_s=system.step_s,
                  algorithm=system.algorithm, order=list(resolved.order), initialization=system.initialization)
    connectors: dict[str, dict[str, Connector]] = {c.name: {} for c in system.components}
    for link in resolved.links:
        for comp, sig, kind in ((link.source, link.source_signal, "output"), (link.target, link.target_signal, "input")):
            require_scalar(sig, f"connection {link.source}.{link.source_signal.name} -> {link.target}."
                         f"{link.target_signal.name}")
            connectors[comp][sig.name] = Connector(sig.name, kind, sig.type, sig.unit)
        flat.connect(f"{link.source}.{link.source_signal.name}", f"{link.target}.{link.target_signal.name}",
                     link.gain, link.offset)
    files: dict[Path, str] = {}
    sources: dict[str, str] = {}
    bindings: dict[str, str] = {}
    parameter_files: dict[str, bytes] = {}
    for comp in system.components:
        fmu = (comp.fmu if comp.fmu.is_absolute() else base / comp.fmu).resolve()
        if fmu not in files:
            name, k = fmu.name, 1
            while f"resources/{name}" in files.values():
                k += 1
                name = f"{fmu.stem}_{k}{fmu.suffix}"
            files[fmu] = f"resources/{name}"
        sources[comp.name] = files[fmu]
        interface = resolved.interfaces[comp.name]
        values = scalar_parameters(comp.name, comp.parameters, interface)
        for sig_name in values:
            sig = interface.signals[sig_name]
            if sig.causality != "input":  # an unconnected input gets no connector (fmpy); its value is in the .ssv
                connectors[comp.name].setdefault(sig_name, Connector(sig_name, "parameter", sig.type, sig.unit))
        flat.add(comp.name, comp.fmu, parameters=values, step_multiple=comp.step_multiple,
                 feedthrough=comp.feedthrough)
        if values:
            bindings[comp.name] = f"resources/{comp.name}.ssv"
            parameter_files[bindings[comp.name]] = to_xml(parameter_set(system.name, values))  # one name: ecos merges them
    units = _units(resolved.interfaces, connectors)
    ssd = to_xml(ssd_tree(flat, sources, {c: list(v.values()) for c, v in connectors.items()}, units, bindings))
    validate(ssd, "SystemStructureDescription.xsd", SSD_NAME)
    for name, data in parameter_files.items():
        validate(data, "SystemStructureParameterValues.xsd", name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as partial, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(SSD_NAME, ssd)
        for name, data in parameter_files.items():
            z.writestr(name, data)
        for fmu, name in files.items():
            z.write(fmu, name)
    return path


def require_scalar(sig: Any, where: str) -> None:
    """Refuse ``sig`` if it is an element of an FMI 3.0 array (SSP 1.0 connectors and fmpy's
    container address whole variables)."""
    if array_size(sig.variable) is not None:
        raise SystemError(f"{where}: {sig.name} is an element of the FMI 3.0 array {sig.variable.name!r}, which SSP "
                          "1.0 connectors and the container FMU cannot address; export the system with FMI 2.0 FMUs (whose arrays are the "
                          "scalars x[i])")


def scalar_parameters(name: str, parameters: dict[str, Any], interface: Interface) -> dict[str, Any]:
    """``parameters`` by scalar variable name, an array value spread over its elements, each value
    of its variable's type."""
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        where = f"component {name!r} parameter {key!r}"
        sigs = interface.expand(key, where)
        values = list(value) if isinstance(value, (list, tuple)) else [value] * len(sigs)
        if len(values) != len(sigs):
            raise SystemError(f"{where}: {len(values)} values for {len(sigs)} elements")
        for sig, v in zip(sigs, values):
            require_scalar(sig, where)
            out[sig.name] = bool(v) if sig.type == "Boolean" else int(v) if sig.type == "Integer" else \
                v if isinstance(v, str) else float(v)
    return out


def _units(interfaces: dict[str, Interface], connectors: dict[str, dict[str, Connector]]) -> dict[str, dict[str, Any]]:
    """The SI base-unit definition of every unit a connector uses, from the FMUs' unit definitions
    (a unit no FMU defines is left off its connectors)."""
    units: dict[str, dict[str, Any]] = {}
    for comp, conns in connectors.items():
        defined = {u.name: u.baseUnit for u in interfaces[comp].md.unitDefinitions}
        for key, c in list(conns.items()):
            if c.unit is None:
                continue
            base = defined.get(c.unit)
            if base is None:
                conns[key] = Connector(c.name, c.kind, c.type, None)
                continue
            attrs = {k: getattr(base, k) for k in ("kg", "m", "s", "A", "K", "mol", "cd", "rad") if getattr(base, k)}
            attrs.update({k: float(getattr(base, k)) for k, d in (("factor", 1.0), ("offset", 0.0))
                          if getattr(base, k) != d})
            units[c.unit] = attrs
    return units


def validate(xml: bytes, schema: str, where: str) -> None:
    """Validate ``xml`` against the SSP 1.0 XSD ``schema`` (the copies fmpy ships); a
    :class:`SystemError` lists the schema's complaints."""
    import fmpy

    xsd = etree.XMLSchema(file=str(Path(fmpy.__file__).parent / "ssp" / "schema" / schema))
    tree = etree.fromstring(xml)
    if not xsd.validate(tree):
        problems = "; ".join(f"line {e.line}: {e.message}" for e in list(xsd.error_log)[:5])
        raise SystemError(f"{where} does not validate against SSP 1.0 {schema}: {problems}")


def open_ssp(path: str | Path, into: str | Path) -> System:
    """Unpack the SSP archive ``path`` into the folder ``into`` and read its system (FMU and
    parameter paths inside that folder); a broken archive raises a :class:`SystemError`."""
    path, into = Path(path), Path(into)
    try:
        with zipfile.ZipFile(path) as z:
            root = into.resolve()
            for member in z.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise SystemError(f"{path}: member {member!r} would unpack outside {into}")
            if SSD_NAME not in z.namelist():
                raise SystemError(f"{path}: no {SSD_NAME} in the archive")
            z.extractall(into)
    except zipfile.BadZipFile as exc:
        raise SystemError(f"{path}: not an SSP archive ({exc})") from None
    return load(into / SSD_NAME)


@contextmanager
def open_system(path: str | Path) -> Iterator[System]:
    """The system of an SSD file, or of an SSP archive unpacked into a temporary folder for as
    long as the ``with`` block lasts."""
    path = Path(path)
    if path.suffix.lower() != ".ssp":
        yield load(path)
        return
    with tempfile.TemporaryDirectory(prefix="fmutwin_ssp_") as unpacked:
        yield open_ssp(path, unpacked)


__all__ = ["export_ssp", "open_ssp", "open_system", "require_scalar", "scalar_parameters", "validate"]
