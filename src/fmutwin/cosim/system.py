"""The system description: which FMUs, with which parameter values, connected how.

Knows FMI model descriptions (read by fmpy), nothing of batteries. A connection joins element
*signals*: every scalar variable is a signal; an FMI 3.0 array variable ``x`` of n elements gives
the signals ``x[1]`` .. ``x[n]``, exactly the names an FMI 2.0 export gives its scalars, so one
system description fits an FMU of either version. An endpoint names a range of them:
``module1.elementVoltage`` (the whole array), ``bms.elementVoltage[13:24]`` (elements 13 to 24,
1-based and inclusive as in FMI names), ``module1.cellTemperature[1:45:4]`` (every fourth).

:func:`resolve` checks a description against the FMUs before anything runs: unknown components
or variables, a target that is not an input, type or unit mismatches, an input fed twice,
unconnected inputs that have no start value, and algebraic loops among ``feedthrough``
components are refused with a :class:`SystemError` naming both ends.

The file format (:func:`save` / :func:`load`) is SSP 1.0's SystemStructure.ssd: ``ssd:Component``
(``source`` = FMU path, relative to the file), inline ``ssv:ParameterSet`` bindings,
``ssd:Connection`` with ``ssc:LinearTransformation`` for a gain and offset, and
``ssd:DefaultExperiment``; the element ranges and the master settings go in a ``fmutwin``
annotation, so the next issue's SSP export only has to expand them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

SSD = "http://ssp-standard.org/SSP1/SystemStructureDescription"
SSC = "http://ssp-standard.org/SSP1/SystemStructureCommon"
SSV = "http://ssp-standard.org/SSP1/SystemStructureParameterValues"
FMUTWIN = "https://fmutwin.invalid/cosim/1"
NS = {"ssd": SSD, "ssc": SSC, "ssv": SSV, "fmutwin": FMUTWIN}

_RANGE = re.compile(r"^(?P<var>[^\[\]]+?)(?:\[(?P<a>\d+)(?::(?P<b>\d+)(?::(?P<s>\d+))?)?\])?$")


class SystemError(ValueError):  # noqa: A001 - the error of a system description, shadowing the builtin on purpose
    """A system description that cannot run; the message names the component, variable and why."""


@dataclass(frozen=True)
class Component:
    """One FMU instance: ``fmu`` any FMI 2.0 or 3.0 co-simulation FMU; ``parameters`` start values
    by variable or signal name; ``step_multiple`` k: stepped every k-th macro step with k steps'
    length; ``feedthrough``: its outputs respond to inputs set at the same communication point
    (not just after a step), which makes a cycle through such components an algebraic loop."""

    name: str
    fmu: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    step_multiple: int = 1
    feedthrough: bool = False


@dataclass(frozen=True)
class Connection:
    """``target = gain * source + offset``, element by element over the two ranges."""

    source: str
    target: str
    gain: float = 1.0
    offset: float = 0.0


@dataclass
class System:
    """Components and connections, with the run's defaults (start, stop, step, algorithm) and how
    the FMUs are initialised (``iterated`` to consistent start values, or ``sequential``: see
    :meth:`fmutwin.cosim.Execution._initialize`)."""

    name: str
    components: list[Component] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    start_s: float = 0.0
    stop_s: float | None = None
    step_s: float | None = None
    algorithm: str = "gauss-seidel"
    order: list[str] | None = None
    initialization: str = "iterated"

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise SystemError(f"unknown component {name!r}; components: {', '.join(c.name for c in self.components)}")

    def add(self, name: str, fmu: str | Path, **kw: Any) -> Component:
        if any(c.name == name for c in self.components):
            raise SystemError(f"component {name!r} is declared twice")
        comp = Component(name, Path(fmu), **kw)
        self.components.append(comp)
        return comp

    def connect(self, source: str, target: str, gain: float = 1.0, offset: float = 0.0) -> None:
        self.connections.append(Connection(source, target, float(gain), float(offset)))


@dataclass(frozen=True)
class Signal:
    """One scalar of an FMU: its FMI variable and the element of it (0 for a scalar)."""

    name: str
    variable: Any
    element: int
    type: str
    causality: str
    unit: str | None


class Interface:
    """The signals of one FMU, from its model description (fmpy)."""

    def __init__(self, fmu: Path) -> None:
        import fmpy

        try:
            self.md = fmpy.read_model_description(str(fmu))
        except Exception as exc:  # fmpy raises plain exceptions for a missing file or malformed XML
            raise SystemError(f"{fmu}: not a readable FMU ({exc})") from None
        if self.md.coSimulation is None:
            raise SystemError(f"{fmu}: not a co-simulation FMU")
        self.version = int(self.md.fmiVersion[0])
        self.variables = {v.name: v for v in self.md.modelVariables}
        units = {t.name: t.unit for t in self.md.typeDefinitions}
        self.signals: dict[str, Signal] = {}
        self.arrays: dict[str, list[str]] = {}
        scalars: dict[str, dict[int, str]] = {}  # FMI 2.0 x[i] scalars by their index i
        for v in self.md.modelVariables:
            unit = v.unit or (units.get(v.declaredType.name) if v.declaredType is not None else None)
            kind = _kind(v.type)
            size = array_size(v)
            if size is None:
                self.signals[v.name] = Signal(v.name, v, 0, kind, v.causality, unit)
                m = re.match(r"^(.*)\[(\d+)\]$", v.name)
                if m:
                    scalars.setdefault(m.group(1), {})[int(m.group(2))] = v.name
            else:
                names = [f"{v.name}[{i + 1}]" for i in range(size)]
                self.arrays[v.name] = names
                for i, n in enumerate(names):
                    self.signals[n] = Signal(n, v, i, kind, v.causality, unit)
        for base, by_index in scalars.items():
            if base not in self.arrays and sorted(by_index) == list(range(1, len(by_index) + 1)):
                self.arrays[base] = [by_index[i] for i in range(1, len(by_index) + 1)]  # x[1] .. x[n], no gaps

    def expand(self, spec: str, where: str) -> list[Signal]:
        """The signals an endpoint's variable part names (see the module docstring)."""
        m = _RANGE.match(spec)
        if not m:
            raise SystemError(f"{where}: {spec!r} is not a variable or a range var[a:b] / var[a:b:step]")
        var, a, b, s = m.group("var"), m.group("a"), m.group("b"), m.group("s")
        if a is None:
            if var in self.signals and var not in self.arrays:
                return [self.signals[var]]
            if var in self.arrays:
                return [self.signals[n] for n in self.arrays[var]]
            raise SystemError(f"{where}: no variable {var!r}{_suggest(var, list(self.signals) + list(self.arrays))}")
        if var not in self.arrays:
            raise SystemError(f"{where}: {var!r} is not an array (or its elements {var}[1].. are not numbered "
                              f"1..n){_suggest(var, list(self.arrays))}")
        first, last = int(a), int(b) if b is not None else int(a)
        n = len(self.arrays[var])
        if not 1 <= first <= last <= n:
            raise SystemError(f"{where}: {spec!r} is outside {var}[1:{n}]")
        return [self.signals[self.arrays[var][i - 1]] for i in range(first, last + 1, int(s or 1))]


INITIALIZATIONS = ("iterated", "sequential", "start")

#: the variable types the master transfers, as its three kinds (FMI 2.0 and 3.0 names)
SUPPORTED = {"Real": "Real", "Float64": "Real", "Integer": "Integer", "Int32": "Integer", "Boolean": "Boolean"}


def _kind(fmi_type: str) -> str:
    """The master's kind of a variable type; other types keep their FMI name (and are refused
    where they would be transferred)."""
    return SUPPORTED.get(fmi_type, fmi_type)


def array_size(v: Any) -> int | None:
    dims = getattr(v, "dimensions", None) or []
    if not dims:
        return None
    n = 1
    for d in dims:
        if d.start is None:
            raise SystemError(f"variable {v.name!r}: array dimensions set by a structural parameter are not supported")
        n *= int(d.start)
    return n


def _suggest(name: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, options, n=3)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


@dataclass(frozen=True)
class Link:
    """A resolved connection of one scalar: source signal of one component to an input of another."""

    source: str
    source_signal: Signal
    target: str
    target_signal: Signal
    gain: float
    offset: float


@dataclass
class Resolved:
    """A checked system: its interfaces and the connections element by element."""

    system: System
    interfaces: dict[str, Interface]
    links: list[Link]
    order: list[str]

    @cached_property
    def linked_inputs(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {c.name: set() for c in self.system.components}
        for link in self.links:
            out[link.target].add(link.target_signal.name)
        return out


def split_endpoint(endpoint: str, system: System) -> tuple[Component, str]:
    """``"component.variable[...]"`` as (component, variable part)."""
    name, dot, var = endpoint.partition(".")
    if not dot or not var:
        raise SystemError(f"{endpoint!r}: an endpoint is component.variable")
    return system.component(name), var


def resolve(system: System, base: Path | None = None) -> Resolved:
    """Check ``system`` against its FMUs and expand its connections; a :class:`SystemError` names
    both ends of anything that cannot run."""
    base = Path(base) if base is not None else Path.cwd()
    if not system.components:
        raise SystemError(f"system {system.name!r} has no components")
    if system.initialization not in INITIALIZATIONS:
        raise SystemError(f"system {system.name!r}: initialization {system.initialization!r} is not one of "
                          f"{', '.join(INITIALIZATIONS)}")
    interfaces: dict[str, Interface] = {}
    for comp in system.components:
        path = comp.fmu if comp.fmu.is_absolute() else base / comp.fmu
        if not path.is_file():
            raise SystemError(f"component {comp.name!r}: FMU {path} not found")
        interfaces[comp.name] = Interface(path)
        if comp.step_multiple < 1:
            raise SystemError(f"component {comp.name!r}: step_multiple {comp.step_multiple} must be >= 1")
        for key in comp.parameters:
            for sig in interfaces[comp.name].expand(key, f"component {comp.name!r} parameter"):
                if sig.causality not in ("parameter", "input", "structuralParameter") or \
                        sig.variable.variability == "constant":
                    raise SystemError(f"component {comp.name!r}: {key!r} is a {sig.causality} "
                                      f"({sig.variable.variability}); only parameters and inputs take start values")
    links: list[Link] = []
    fed: dict[tuple[str, str], str] = {}
    for conn in system.connections:
        where = f"connection {conn.source} -> {conn.target}"
        src_comp, src_var = split_endpoint(conn.source, system)
        dst_comp, dst_var = split_endpoint(conn.target, system)
        sources = interfaces[src_comp.name].expand(src_var, where)
        targets = interfaces[dst_comp.name].expand(dst_var, where)
        if len(sources) != len(targets):
            raise SystemError(f"{where}: {len(sources)} source elements for {len(targets)} target elements")
        for s, t in zip(sources, targets):
            if s.causality != "output":
                raise SystemError(f"{where}: source {src_comp.name}.{s.name} is a {s.causality}, not an output")
            if t.causality != "input":
                raise SystemError(f"{where}: target {dst_comp.name}.{t.name} is a {t.causality}, not an input")
            for sig, comp in ((s, src_comp), (t, dst_comp)):
                if sig.type not in SUPPORTED.values():
                    raise SystemError(f"{where}: {comp.name}.{sig.name} is a {sig.variable.type}; the master "
                                      "transfers Real/Float64, Integer/Int32 and Boolean signals")
            if s.type != t.type:
                raise SystemError(f"{where}: type mismatch, {src_comp.name}.{s.name} is {s.type} and "
                                  f"{dst_comp.name}.{t.name} is {t.type}")
            if s.type != "Real" and (conn.gain != 1.0 or conn.offset != 0.0):
                raise SystemError(f"{where}: a gain or offset needs Real signals, {s.name} is {s.type}")
            if s.unit != t.unit and conn.gain == 1.0 and conn.offset == 0.0:
                raise SystemError(f"{where}: unit mismatch, {src_comp.name}.{s.name} is in {s.unit or 'no unit'} "
                                  f"and {dst_comp.name}.{t.name} in {t.unit or 'no unit'} (give a gain/offset to "
                                  "convert)")
            key = (dst_comp.name, t.name)
            if key in fed:
                raise SystemError(f"{where}: {dst_comp.name}.{t.name} is already fed by {fed[key]}")
            fed[key] = f"{src_comp.name}.{s.name}"
            links.append(Link(src_comp.name, s, dst_comp.name, t, conn.gain, conn.offset))
    for comp in system.components:
        for sig in interfaces[comp.name].signals.values():
            if sig.causality == "input" and (comp.name, sig.name) not in fed and sig.variable.start is None \
                    and sig.variable.name not in comp.parameters and sig.name not in comp.parameters:
                raise SystemError(f"component {comp.name!r}: input {sig.name} is not connected and has no start value")
    _refuse_algebraic_loops(system, links)
    return Resolved(system, interfaces, links, _order(system, links))


def _refuse_algebraic_loops(system: System, links: list[Link]) -> None:
    """A cycle of connections through components that are all ``feedthrough`` has no step to
    break it: refuse it, naming the connections."""
    through = {c.name for c in system.components if c.feedthrough}
    edges: dict[str, dict[str, Link]] = {}
    for link in links:
        if link.source in through and link.target in through:
            edges.setdefault(link.source, {}).setdefault(link.target, link)
    state: dict[str, int] = {}

    def visit(node: str, path: list[Link]) -> None:
        state[node] = 1
        for nxt, link in edges.get(node, {}).items():
            if state.get(nxt) == 1:
                cycle = path[[lk.source for lk in path].index(nxt):] if nxt in [lk.source for lk in path] else []
                names = "; ".join(f"{lk.source}.{lk.source_signal.name} -> {lk.target}.{lk.target_signal.name}"
                                  for lk in [*cycle, link])
                raise SystemError(f"algebraic loop among feedthrough components: {names}")
            if state.get(nxt) is None:
                visit(nxt, [*path, link])
        state[node] = 2

    for node in list(edges):
        if state.get(node) is None:
            visit(node, [])


def _order(system: System, links: list[Link]) -> list[str]:
    """The Gauss-Seidel order: the given one (checked), else the declared order with each
    component after the components that feed it where that has no cycle (a cycle keeps the
    declared order between its members)."""
    names = [c.name for c in system.components]
    if system.order is not None:
        if sorted(system.order) != sorted(names):
            raise SystemError(f"order {system.order} must name every component once: {names}")
        return list(system.order)
    feeds: dict[str, set[str]] = {n: set() for n in names}
    for link in links:
        if link.source != link.target:
            feeds[link.target].add(link.source)
    order: list[str] = []
    pending = list(names)
    while pending:
        ready = [n for n in pending if feeds[n] <= set(order)]
        pick = ready[0] if ready else pending[0]  # a cycle: break it at the first declared member
        order.append(pick)
        pending.remove(pick)
    return order


# -- file format ---------------------------------------------------------------------------------

def save(system: System, path: str | Path) -> None:
    """Write ``system`` as an SSD file (FMU paths relative to the file's folder, parameter values
    inline, connections with their element ranges)."""
    import os

    path = Path(path)
    sources = {c.name: os.path.relpath(Path(c.fmu).resolve(), path.parent.resolve())  # relative to the file
               for c in system.components}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_xml(ssd_tree(system, sources)))


@dataclass(frozen=True)
class Connector:
    """An SSD connector: ``kind`` input / output / parameter, ``type`` Real / Integer / Boolean."""

    name: str
    kind: str
    type: str
    unit: str | None = None


def ssd_tree(system: System, sources: dict[str, str], connectors: dict[str, list[Connector]] | None = None,
             units: dict[str, dict[str, float]] | None = None, bindings: dict[str, str] | None = None) -> Any:
    """The SystemStructureDescription element of ``system`` in SSP 1.0's element order, each
    component's FMU at ``sources[name]``; optionally its declared ``connectors``, the ``units``
    they use (name -> BaseUnit attributes) and parameter values in ``.ssv`` files
    (``bindings[name]``, else inline)."""
    root = etree.Element(f"{{{SSD}}}SystemStructureDescription", nsmap={"ssd": SSD, "ssc": SSC, "ssv": SSV,
                                                                           "fmutwin": FMUTWIN},
                         version="1.0", name=system.name)
    sys_el = etree.SubElement(root, f"{{{SSD}}}System", name=system.name)
    elements = etree.SubElement(sys_el, f"{{{SSD}}}Elements")
    for comp in system.components:
        el = etree.SubElement(elements, f"{{{SSD}}}Component", name=comp.name, source=sources[comp.name],
                              type="application/x-fmu-sharedlibrary")
        if connectors and connectors.get(comp.name):
            conns = etree.SubElement(el, f"{{{SSD}}}Connectors")
            for c in connectors[comp.name]:
                cel = etree.SubElement(conns, f"{{{SSD}}}Connector", name=c.name, kind=c.kind)
                etree.SubElement(cel, f"{{{SSC}}}{c.type}", **({"unit": c.unit} if c.unit else {}))
        if comp.parameters:
            bindings_el = etree.SubElement(el, f"{{{SSD}}}ParameterBindings")
            if bindings and comp.name in bindings:
                etree.SubElement(bindings_el, f"{{{SSD}}}ParameterBinding", source=bindings[comp.name])
            else:
                binding = etree.SubElement(bindings_el, f"{{{SSD}}}ParameterBinding")
                values = etree.SubElement(binding, f"{{{SSD}}}ParameterValues")
                values.append(parameter_set(f"{comp.name}_parameters", comp.parameters))
        if comp.step_multiple != 1 or comp.feedthrough:
            _annotation(el, stepMultiple=str(comp.step_multiple), feedthrough=str(comp.feedthrough).lower())
    if system.connections:
        conns = etree.SubElement(sys_el, f"{{{SSD}}}Connections")
        for c in system.connections:
            (se, sv), (te, tv) = (c.source.split(".", 1), c.target.split(".", 1))
            el = etree.SubElement(conns, f"{{{SSD}}}Connection", startElement=se, startConnector=sv,
                                  endElement=te, endConnector=tv)
            if c.gain != 1.0 or c.offset != 0.0:
                etree.SubElement(el, f"{{{SSC}}}LinearTransformation", factor=repr(c.gain), offset=repr(c.offset))
    if units:
        units_el = etree.SubElement(root, f"{{{SSD}}}Units")
        for name, base in units.items():
            unit = etree.SubElement(units_el, f"{{{SSC}}}Unit", name=name)
            etree.SubElement(unit, f"{{{SSC}}}BaseUnit", **{k: repr(v) if isinstance(v, float) else str(v)
                                                             for k, v in base.items()})
    experiment = {"startTime": repr(system.start_s)}
    if system.stop_s is not None:
        experiment["stopTime"] = repr(system.stop_s)
    etree.SubElement(root, f"{{{SSD}}}DefaultExperiment", **experiment)
    settings = {"algorithm": system.algorithm, "initialization": system.initialization}
    if system.step_s is not None:
        settings["stepSize"] = repr(system.step_s)
    if system.order is not None:
        settings["order"] = " ".join(system.order)
    _annotation(root, **settings)
    return root


def parameter_set(name: str, parameters: dict[str, Any]) -> Any:
    """An ``ssv:ParameterSet`` of ``parameters``; an array value of a variable ``x`` is written as
    its elements ``x[1]`` .. ``x[n]`` (one value each, as SSP 1.0 types them; read back as those
    signals), of a range ``x[a:b]`` space separated."""
    pset = etree.Element(f"{{{SSV}}}ParameterSet", nsmap={"ssv": SSV}, version="1.0", name=name)
    params = etree.SubElement(pset, f"{{{SSV}}}Parameters")
    for key, value in parameters.items():
        items = [(f"{key}[{i + 1}]", v) for i, v in enumerate(value)] \
            if isinstance(value, (list, tuple)) and "[" not in key else [(key, value)]
        for name_, v in items:
            _value_element(etree.SubElement(params, f"{{{SSV}}}Parameter", name=name_), v)
    return pset


def to_xml(element: Any) -> bytes:
    """``element`` as an XML document (UTF-8, declaration, indented)."""
    return etree.tostring(element, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _value_element(parent: Any, value: Any) -> None:
    if isinstance(value, bool):
        etree.SubElement(parent, f"{{{SSV}}}Boolean", value=str(value).lower())
    elif isinstance(value, int):
        etree.SubElement(parent, f"{{{SSV}}}Integer", value=str(value))
    elif isinstance(value, (list, tuple)):  # an array parameter: its elements, space separated
        etree.SubElement(parent, f"{{{SSV}}}Real", value=" ".join(repr(float(v)) for v in value))
    elif isinstance(value, str):
        etree.SubElement(parent, f"{{{SSV}}}String", value=value)
    else:
        etree.SubElement(parent, f"{{{SSV}}}Real", value=repr(float(value)))


def _annotation(parent: Any, **attributes: str) -> None:
    annotations = etree.SubElement(parent, f"{{{SSD}}}Annotations")
    ann = etree.SubElement(annotations, f"{{{SSC}}}Annotation", type="fmutwin.cosim")
    etree.SubElement(ann, f"{{{FMUTWIN}}}Master", **attributes)


def load(path: str | Path) -> System:
    """Read a file written by :func:`save` (or an SSD of the same shape); FMU paths stay relative
    to the file's folder. Malformed XML or a missing attribute raise :class:`SystemError` naming
    the file and line."""
    path = Path(path)
    try:
        root = etree.parse(str(path)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SystemError(f"{path}: cannot read the system description ({exc})") from None
    if root.tag != f"{{{SSD}}}SystemStructureDescription":
        raise SystemError(f"{path}: the root element is {root.tag}, not ssd:SystemStructureDescription")

    def need(el: Any, attr: str) -> str:
        value = el.get(attr)
        if value is None:
            raise SystemError(f"{path}:{el.sourceline}: {etree.QName(el).localname} has no {attr!r} attribute")
        return value

    def number(el: Any, attr: str, default: str, kind: Any = float) -> Any:
        text = el.get(attr, default)
        try:
            return kind(text)
        except ValueError:
            raise SystemError(f"{path}:{el.sourceline}: {etree.QName(el).localname} {attr}={text!r} is not a "
                              f"{'number' if kind is float else 'whole number'}") from None

    system = System(name=need(root, "name"))
    for el in root.iterfind("ssd:System/ssd:Elements/ssd:Component", NS):
        params: dict[str, Any] = {}
        for binding in el.iterfind("ssd:ParameterBindings/ssd:ParameterBinding", NS):
            prefix = binding.get("prefix", "")
            if binding.get("source"):  # an .ssv file, relative to the SSD's folder
                ssv = path.parent / binding.get("source")
                try:
                    pset = etree.parse(str(ssv)).getroot()
                except (OSError, etree.XMLSyntaxError) as exc:
                    raise SystemError(f"{path}:{binding.sourceline}: cannot read the parameter values {ssv} "
                                      f"({exc})") from None
                where = ssv
            else:
                pset, where = binding, path
            for p in pset.iterfind(".//ssv:Parameter", NS):
                name = need(p, "name")
                params[prefix + name] = _read_value(p, where)  # SSP: the prefix is prepended to the names
        master = el.find("{*}Annotations/ssc:Annotation/fmutwin:Master", NS)  # ssd: (SSP 1.0), ssc: in older files
        extra = {} if master is None else {"step_multiple": number(master, "stepMultiple", "1", int),
                                           "feedthrough": master.get("feedthrough", "false") == "true"}
        source = Path(need(el, "source"))
        try:
            system.add(need(el, "name"), source if source.is_absolute() else path.parent / source, parameters=params,
                       **extra)
        except SystemError as exc:
            raise SystemError(f"{path}:{el.sourceline}: {exc}") from None
    for el in root.iterfind("ssd:System/ssd:Connections/ssd:Connection", NS):
        lt = el.find("ssc:LinearTransformation", NS)
        gain, offset = (1.0, 0.0) if lt is None else (number(lt, "factor", "1"), number(lt, "offset", "0"))
        system.connect(f"{need(el, 'startElement')}.{need(el, 'startConnector')}",
                       f"{need(el, 'endElement')}.{need(el, 'endConnector')}", gain, offset)
    master = root.find("{*}Annotations/ssc:Annotation/fmutwin:Master", NS)  # ssd: (SSP 1.0), ssc: in older files
    if master is not None:
        system.algorithm = master.get("algorithm", system.algorithm)
        system.initialization = master.get("initialization", system.initialization)
        system.step_s = number(master, "stepSize", "") if master.get("stepSize") else None
        system.order = master.get("order").split() if master.get("order") else None
    experiment = root.find("ssd:DefaultExperiment", NS)
    if experiment is not None:
        system.start_s = number(experiment, "startTime", "0")
        system.stop_s = number(experiment, "stopTime", "") if experiment.get("stopTime") else None
    return system


def _read_value(p: Any, path: Path) -> Any:
    for child in p:
        kind, value = etree.QName(child).localname, child.get("value")
        if value is None:
            raise SystemError(f"{path}:{child.sourceline}: parameter {p.get('name')!r} has no value")
        try:
            if kind == "Boolean":
                return value == "true"
            if kind == "Integer":
                return int(value)
            if kind == "String":
                return value
            parts = [float(v) for v in value.split()]
            if not parts:
                raise ValueError(value)
        except ValueError:
            raise SystemError(f"{path}:{child.sourceline}: parameter {p.get('name')!r}: {value!r} is not a "
                              f"{kind}") from None
        return parts[0] if len(parts) == 1 else parts
    raise SystemError(f"{path}:{p.sourceline}: parameter {p.get('name')!r} has no value element")
