"""A whole system as one co-simulation FMU (FMI 2.0 or 3.0), with fmpy's container FMU.

:func:`export_fmu` packs the system's FMUs into fmpy's container (its native ``container_fmu``
library steps them and moves the connected values; no Python at run time when the components
are native). The container's interface:

- every input that no connection feeds, as ``component.variable`` (its start value: the system's
  value, else the FMU's) - the pack's power demand, coolant flow and inlet temperature, ambient;
- every parameter value the system gives, as a parameter ``component.variable`` (each module's
  realised cell variation);
- every output of every component, as ``component.variable``;
- ``initial.component.variable``: the start value of every connected input, computed at export by
  the master's iterated initialisation (see :meth:`fmutwin.cosim.Execution._initialize`). fmpy's
  container exchanges no values during initialisation, so without these the BMS would start from
  its inputs' start values rather than its modules' voltages; with them the container starts from
  the consistent point, and its run equals the master's Jacobi run (tested bit for bit). Changing
  a parameter that moves that point (an initial SoC) needs a new export.

The container couples by Jacobi (every component from the outputs at the step's start) at the
system's step, whatever the system's algorithm. What it cannot express is refused with a
:class:`SystemError`: connections with a gain or offset, ``step_multiple`` other than 1, and FMI
3.0 arrays in connections or parameters (it moves whole variables; build FMI 2.0 components).

fmpy 0.3.32's container writer is worked around in two places: its connections keep the FMI 2.0
type names (``Real``), which its library refuses (written as ``Float64``/``Int32``), and its
archive holds a stray empty ``Container.zip`` (left out); its model description gets the
``ModelStructure`` (Outputs, InitialUnknowns) that ``fmpy.validate_fmu`` asks for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any

from fmutwin.atomic import atomic_write
from fmutwin.cosim.execution import Execution
from fmutwin.cosim.ssp import require_scalar, scalar_parameters
from fmutwin.cosim.system import System, SystemError, resolve

#: the container's type names by FMI version, from the master's kinds
_TYPES = {2: {"Real": "Real", "Integer": "Integer", "Boolean": "Boolean"},
          3: {"Real": "Float64", "Integer": "Int32", "Boolean": "Boolean"}}


def export_fmu(system: System, path: str | Path, fmi_version: int = 2, base: Path | None = None) -> Path:
    """Write ``system`` (FMU paths relative to ``base``, default the working directory) as the
    co-simulation FMU ``path`` of FMI ``fmi_version`` (2 or 3); see the module docstring."""
    from fmpy.container_fmu.cli import create_container_fmu
    from fmpy.container_fmu.config import Component, Configuration, Connection
    from fmpy.model_description import CoSimulation, DefaultExperiment, ModelDescription, Unknown

    if fmi_version not in (2, 3):
        raise ValueError(f"export_fmu: fmi_version {fmi_version} must be 2 or 3")
    resolved = resolve(system, base)
    base = Path(base) if base is not None else Path.cwd()
    if system.step_s is None:
        raise SystemError(f"system {system.name!r}: a step size is needed for the container's fixed step")
    for comp in system.components:
        if comp.step_multiple != 1:
            raise SystemError(f"component {comp.name!r}: step_multiple {comp.step_multiple}; the container steps "
                              "every component at the system's step")
    for link in resolved.links:
        where = f"connection {link.source}.{link.source_signal.name} -> {link.target}.{link.target_signal.name}"
        if link.gain != 1.0 or link.offset != 0.0:
            raise SystemError(f"{where}: the container cannot apply a gain or offset")
        require_scalar(link.source_signal, where)
        require_scalar(link.target_signal, where)
    values = {c.name: scalar_parameters(c.name, c.parameters, resolved.interfaces[c.name]) for c in system.components}
    consistent = resolve(dataclasses.replace(system, initialization="iterated"), base)
    start = Execution(consistent, "jacobi", base=base).initial_inputs()

    types = _TYPES[fmi_version]
    components = {c.name: Component(name=c.name, filename=(c.fmu if c.fmu.is_absolute() else base / c.fmu).resolve(),
                                    modelDescription=resolved.interfaces[c.name].md) for c in system.components}
    variables: list[Any] = [_variable(types["Real"], "time", "continuous", "independent")]
    mappings: dict[Any, list[tuple[Any, Any]]] = {}
    linked = resolved.linked_inputs

    def expose(comp: str, sig: Any, name: str, causality: str, value: Any = None, description: str | None = None) -> None:
        var = sig.variable
        variability = "fixed" if causality == "parameter" else var.variability
        v = _variable(types[sig.type], name, variability, causality, value, sig.unit, description or var.description)
        if causality == "output":
            v.initial = "calculated"
        variables.append(v)
        mappings[v] = [(components[comp], var)]

    for comp in system.components:
        interface = resolved.interfaces[comp.name]
        for sig in interface.signals.values():
            name = f"{comp.name}.{sig.name}"
            if sig.causality == "input" and sig.name not in linked[comp.name]:
                require_scalar(sig, f"input {name}")
                expose(comp.name, sig, name, "input", values[comp.name].get(sig.name, sig.variable.start))
            elif sig.causality == "parameter" and sig.name in values[comp.name]:
                expose(comp.name, sig, name, "parameter", values[comp.name][sig.name])
            elif sig.causality == "input":
                expose(comp.name, sig, f"initial.{name}", "parameter", start[(comp.name, sig.name)],
                       f"start value of the connected input {name}, from the master's iterated initialisation")
        for sig in interface.signals.values():
            if sig.causality == "output":
                require_scalar(sig, f"output {comp.name}.{sig.name}")
                expose(comp.name, sig, f"{comp.name}.{sig.name}", "output")
    content = hashlib.sha256(json.dumps([system.name, [(v.name, v.start) for v in variables]]).encode())
    for c in components.values():  # the token changes with any value or FMU
        content.update(hashlib.sha256(c.filename.read_bytes()).digest())
    token = "{" + str(uuid.UUID(content.hexdigest()[:32])) + "}"
    units: dict[str, Any] = {}
    for interface in resolved.interfaces.values():
        for unit in interface.md.unitDefinitions:
            units.setdefault(unit.name, unit)
    md = ModelDescription(fmiVersion=f"{fmi_version}.0", modelName=system.name, instantiationToken=token,
                          description=f"the co-simulated system {system.name!r} ({len(components)} FMUs), "
                                      "fmpy's container FMU, exported by fmutwin",
                          coSimulation=CoSimulation(fixedInternalStepSize=float(system.step_s)),
                          defaultExperiment=DefaultExperiment(startTime=repr(system.start_s), stepSize=repr(system.step_s),
                                                              stopTime=None if system.stop_s is None else
                                                              repr(system.stop_s)),
                          modelVariables=variables,
                          unitDefinitions=[units[u] for u in sorted({v.unit for v in variables if v.unit}) if u in units])
    for v in variables:
        if v.unit is not None and v.unit not in units:  # a unit no component defines: left off, as in the SSP
            v.unit = None
    md.outputs = [Unknown(variable=v) for v in variables if v.causality == "output"]
    md.initialUnknowns = list(md.outputs)
    connections = [Connection(components[lk.source], [lk.source_signal.variable], components[lk.target],
                              [lk.target_signal.variable]) for lk in resolved.links]
    config = Configuration(parallelDoStep=False, modelDescription=md, components=list(components.values()),
                           connections=connections, variableMappings=mappings)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fmutwin_container_") as tmp:
        built, unzipped = Path(tmp) / "built.fmu", Path(tmp) / "unzipped"
        unzipped.mkdir()  # fmpy's writer empties it first
        create_container_fmu(config, unzipped, built)
        with atomic_write(path) as partial:
            _repack(built, partial)
    return path


def _variable(type_: str, name: str, variability: str, causality: str, start: Any = None, unit: str | None = None,
              description: str | None = None) -> Any:
    from fmpy.model_description import ModelVariable

    if start is None or isinstance(start, str):
        text = start
    elif type_ == "Boolean":
        text = "true" if start else "false"
    elif type_ in ("Integer", "Int32"):
        text = str(int(start))
    else:
        text = repr(float(start))
    return ModelVariable(type=type_, name=name, variability=variability, causality=causality, start=text, unit=unit,
                         description=description)


def _repack(built: Path, out: Path) -> None:
    """fmpy's archive without its stray Container.zip, with its connections' FMI 2.0 type names
    written as the container library reads them."""
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename == "Container.zip" or item.is_dir():
                continue
            data = src.read(item)
            if item.filename == "resources/container.json":
                config = json.loads(data)
                for c in config["connections"]:
                    c["variableType"] = {"Real": "Float64", "Integer": "Int32"}.get(c["variableType"], c["variableType"])
                data = json.dumps(config, indent=1).encode()
            dst.writestr(item.filename, data)


__all__ = ["export_fmu"]
