"""Provenance of parameter files and FMUs: what produced them, and whether that still holds.

A provenance record is a JSON object stored in a parameter file (its ``provenance`` field: a
cell parameter file, and any other parameter file that has one) and, for FMUs built from such a
file, in the FMU as ``resources/<file name>`` with a summary in the modelDescription (FMI 2.0
``VendorAnnotations``, FMI 3.0 ``Annotations``, tool/type ``org.fmutwin.provenance``, whose
``parameterFile`` attribute names the file). A record made by fmutwin names:

* ``generated_by``: fmutwin version, git commit (and whether the tree had local changes), the
  command, the time;
* ``environment``: Python, platform and the versions of pybamm, numpy, scipy, casadi, pydantic;
* ``source_model``: the electrochemical model, its options, the parameter set (name and a hash
  of its content) or BPX file (path and sha256), overrides;
* ``calibration`` (optional), ``experiments``, ``fit`` (method, settings, residuals) and
  ``validation`` (errors per held-out experiment and temperature);
* or, for a set converted from published data, ``origin`` (source, URL, licence, converter,
  data-file hashes);
* ``content_sha256``: the hash of the parameter file's content without its provenance, and
  ``record_sha256``: the hash of the record itself, so an edit of either after generation is
  detected.

Every ``{"path": ..., "sha256": ...}`` object anywhere in a record is an input file: :func:`check`
re-hashes it. A file whose hashes no longer match is *stale*.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import subprocess
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
import inspect
from typing import Any, Callable, Iterator, Protocol

from lxml import etree

FORMAT = "fmutwin.provenance/1"
ANNOTATION_TYPE = "org.fmutwin.provenance"
PACKAGES = ("fmutwin", "pybamm", "numpy", "scipy", "casadi", "pydantic", "fmpy")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: str | Path, role: str) -> dict[str, str]:
    """An input-file entry: role, absolute path and sha256 (re-checked by :func:`check`)."""
    path = Path(path).resolve()
    return {"role": role, "path": str(path), "sha256": file_sha256(path)}


class ParameterFile(Protocol):
    """A validated parameter file (a pydantic model) with a name, a source and a provenance field."""

    name: str
    source: str
    provenance: dict[str, Any] | None

    def model_dump(self, **kwargs: Any) -> dict[str, Any]: ...

    def model_copy(self, **kwargs: Any) -> Any: ...


#: turns a parameter file's JSON data into its validated model (raises ValueError naming the field)
Loader = Callable[[Any, str], ParameterFile]


def parameter_values_sha256(values: Any) -> str:
    """A hash of a PyBaMM parameter set's content (a mapping of names to numbers or functions):
    numbers by value, functions by their source. Recomputed later to tell whether the installed
    parameter set still is the one a parameter file was fitted to."""
    items = []
    for key in sorted(values.keys()):
        value = values[key]
        if callable(value):
            try:
                text = inspect.getsource(value)
            except (OSError, TypeError):
                text = repr(value)
        else:
            text = repr(value)
        items.append([key, text])
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def pybamm_source(model: str, parameter_set: str | None, bpx_file: str | Path | None, base_values: Any,
                  **settings: Any) -> dict[str, Any]:
    """A ``source_model`` entry for a PyBaMM model: model, the parameter set (name and the hash of
    ``base_values``, its content before any overrides, which :func:`check` recomputes) or the BPX
    file (path and sha256), the PyBaMM version, and ``settings`` (options, mesh, overrides)."""
    import pybamm

    rec: dict[str, Any] = {"framework": "pybamm", "model": model, **settings,
                           "parameter_set": None if bpx_file else parameter_set}
    if bpx_file:
        rec["bpx_file"] = file_record(bpx_file, "BPX parameter file")
    rec["parameter_values_sha256"] = parameter_values_sha256(base_values)
    rec["pybamm_version"] = pybamm.__version__
    return rec


def file_reference(params: Any) -> dict[str, Any]:
    """How an assembled file names a file it is made from: its name, content hash and the hash of
    its own provenance record (None if it has none)."""
    return {"name": params.name, "content_sha256": content_sha256(params),
            "record_sha256": (params.provenance or {}).get("record_sha256")}


def content_sha256(params: ParameterFile) -> str:
    """Hash of a parameter set's content, its provenance excluded (canonical JSON)."""
    data = params.model_dump(mode="json", exclude_none=True, exclude={"provenance"})
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_state() -> dict[str, Any]:
    """The git commit of the fmutwin source tree and whether it had uncommitted changes.

    ``{"commit": None}`` when fmutwin does not run from a git checkout (an installed wheel).
    """
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],  # the whole checkout
                                cwd=here, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def environment() -> dict[str, Any]:
    """Python, platform and package versions of this process."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "packages": {name: _version(name) for name in PACKAGES}}


def generated_by(command: str) -> dict[str, Any]:
    """Who made a record: fmutwin version and git state, the command, the UTC time."""
    return {"tool": "fmutwin", "version": _version("fmutwin"), "git": git_state(), "command": command,
            "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def record_sha256(record: dict[str, Any]) -> str:
    """Hash of a provenance record without its own ``record_sha256`` (canonical JSON)."""
    return hashlib.sha256(_canonical({k: v for k, v in record.items() if k != "record_sha256"}).encode()).hexdigest()


def attach(params: Any, record: dict[str, Any]) -> Any:
    """``params`` with ``record`` as its provenance, sealed with the hash of the content and the
    hash of the record itself (so an edit of either is detected)."""
    plain = json.loads(json.dumps(record, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
    sealed = {"format": FORMAT, **plain, "content_sha256": content_sha256(params)}
    sealed["record_sha256"] = record_sha256(sealed)
    return params.model_copy(update={"provenance": sealed})


# -- checking ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One result of a provenance check: ``ok``, ``stale`` or ``unverified``."""

    status: str
    what: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.status}] {self.what}: {self.detail}"


def _file_entries(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``{"path", "sha256"}`` object in a record, with where it sits."""
    if isinstance(node, dict):
        if isinstance(node.get("path"), str) and isinstance(node.get("sha256"), str):
            yield where, node
        for key, value in node.items():
            yield from _file_entries(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _file_entries(value, f"{where}[{i}]")


def check(params: ParameterFile) -> list[Finding]:
    """Re-verify a parameter set's provenance: its own content, every recorded input file and
    the named PyBaMM parameter set. Raises ValueError if it has no provenance record."""
    record = params.provenance
    if not record:
        raise ValueError(f"parameter set {params.name!r} has no provenance record (hand-written or made "
                         "before fmutwin recorded provenance)")
    findings: list[Finding] = []
    recorded = record.get("content_sha256")
    actual = content_sha256(params)
    findings.append(Finding("ok" if recorded == actual else "stale", "parameter content",
                            f"sha256 {actual[:16]}... matches the record" if recorded == actual else
                            f"edited after generation: sha256 {actual[:16]}... != recorded {str(recorded)[:16]}..."))
    sealed, now = record.get("record_sha256"), record_sha256(record)
    findings.append(Finding("ok" if sealed == now else "stale", "provenance record",
                            "unchanged since generation" if sealed == now else
                            f"edited after generation: sha256 {now[:16]}... != sealed {str(sealed)[:16]}..."))
    for where, entry in _file_entries(record):
        path = Path(entry["path"])
        label = f"{entry.get('role', where)} {path.name}"
        if not path.is_file():
            findings.append(Finding("unverified", label, f"{path} not found on this machine"))
            continue
        now = file_sha256(path)
        findings.append(Finding("ok", label, f"sha256 {now[:16]}... matches") if now == entry["sha256"] else
                        Finding("stale", label, f"{path} changed: sha256 {now[:16]}... != recorded "
                                f"{entry['sha256'][:16]}..."))
    source = record.get("source_model") or {}
    if source.get("parameter_set") and source.get("parameter_values_sha256"):
        findings.append(_check_parameter_set(source))
    part = (record.get("origin") or {}).get("cell")
    inner = getattr(params, "cell", None)
    if part and inner is not None:  # assembled from a cell set it holds: that set unchanged, and its own chain
        now = content_sha256(inner)
        findings.append(Finding("ok" if now == part.get("content_sha256") else "stale", "cell parameter set",
                                f"sha256 {now[:16]}... " + ("matches the record" if now == part.get("content_sha256")
                                                           else f"!= recorded {str(part.get('content_sha256'))[:16]}...")))
        if inner.provenance:
            findings += [Finding(f.status, f"cell {f.what}", f.detail) for f in check(inner)]
    return findings


def _check_parameter_set(source: dict[str, Any]) -> Finding:
    name = source["parameter_set"]
    label = f"PyBaMM parameter set {name}"
    try:
        import pybamm

        now = parameter_values_sha256(pybamm.ParameterValues(name))  # recorded before overrides
    except Exception as exc:  # noqa: BLE001 - any failure means it cannot be verified here
        return Finding("unverified", label, f"cannot be evaluated here ({type(exc).__name__}: {exc})")
    if now == source["parameter_values_sha256"]:
        return Finding("ok", label, f"content unchanged (pybamm {pybamm.__version__})")
    return Finding("stale", label, f"content changed since generation (recorded with pybamm "
                   f"{source.get('pybamm_version')}, installed {pybamm.__version__})")


def is_stale(findings: list[Finding]) -> bool:
    return any(f.status == "stale" for f in findings)


# -- FMUs ---------------------------------------------------------------------------------------

def summary(params: ParameterFile, parameter_file_sha256: str, file_name: str) -> dict[str, str]:
    """The few facts put into an FMU's modelDescription (the full record is in its resources)."""
    rec = params.provenance or {}
    source = rec.get("source_model") or {}
    git = (rec.get("generated_by") or {}).get("git") or {}
    worst = max((v.get("rms_V", 0.0) for v in rec.get("validation") or []), default=None)
    out = {"parameterSet": params.name, "parameterFile": f"resources/{file_name}",
           "parameterFileSha256": parameter_file_sha256, "contentSha256": str(rec.get("content_sha256", "")),
           "sourceModel": " ".join(str(x) for x in (source.get("framework"), source.get("model"),
                                                     source.get("parameter_set") or
                                                     (source.get("bpx_file") or {}).get("path")) if x),
           "fmutwinVersion": str((rec.get("generated_by") or {}).get("version")),
           "gitCommit": str(git.get("commit")), "createdUtc": str((rec.get("generated_by") or {}).get("created_utc"))}
    if worst is not None:
        out["worstValidationRmsV"] = f"{worst:.6g}"
    return out


def embed(fmu: str | Path, parameter_file: str | Path, file_name: str) -> None:
    """Put a parameter file (with its provenance) into a built FMU: the file as
    ``resources/<file_name>`` and a summary annotation in the modelDescription (the file is
    read as JSON only; what it holds is the twin's business)."""
    fmu, parameter_file = Path(fmu), Path(parameter_file)
    raw = parameter_file.read_bytes()
    data = json.loads(raw)
    target = f"resources/{file_name}"
    with zipfile.ZipFile(fmu) as zin:
        items = [(info, zin.read(info.filename)) for info in zin.infolist() if info.filename != target]
    xml = next(data for info, data in items if info.filename == "modelDescription.xml")
    xml = _annotate(xml, summary(_Record(data), hashlib.sha256(raw).hexdigest(), file_name))
    tmp = fmu.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, item in items:
            zout.writestr(info, xml if info.filename == "modelDescription.xml" else item)
        zout.writestr(target, raw)
    tmp.replace(fmu)


class _Record:
    """The fields :func:`summary` reads, from a parameter file's raw JSON."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.name = str(data.get("name", ""))
        self.source = str(data.get("source", ""))
        self.provenance = data.get("provenance")


def _annotate(xml: bytes, facts: dict[str, str]) -> bytes:
    root = etree.fromstring(xml)
    element = etree.Element("Provenance", facts)
    if root.get("fmiVersion", "").startswith("2"):
        vendor = root.find("VendorAnnotations")
        if vendor is None:
            vendor = etree.Element("VendorAnnotations")
            root.find("ModelVariables").addprevious(vendor)
        for old in vendor.findall(f"Tool[@name='{ANNOTATION_TYPE}']"):
            vendor.remove(old)
        etree.SubElement(vendor, "Tool", name=ANNOTATION_TYPE).append(element)
    else:
        annotations = root.find("Annotations")
        if annotations is None:
            annotations = etree.SubElement(root, "Annotations")
        for old in annotations.findall(f"Annotation[@type='{ANNOTATION_TYPE}']"):
            annotations.remove(old)
        etree.SubElement(annotations, "Annotation", type=ANNOTATION_TYPE).append(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def read_fmu(fmu: str | Path, load: Loader) -> tuple[ParameterFile, dict[str, str], list[Finding]]:
    """The parameter file inside an FMU (the one its provenance annotation names), the
    annotation's summary, and the FMU-level check (the file's hash against the summary)."""
    fmu = Path(fmu)
    try:
        with zipfile.ZipFile(fmu) as z:
            root = etree.fromstring(z.read("modelDescription.xml"))
            element = root.find(f".//*[@name='{ANNOTATION_TYPE}']/Provenance")
            if element is None:
                element = root.find(f".//*[@type='{ANNOTATION_TYPE}']/Provenance")
            if element is None or element.get("parameterFile") not in set(z.namelist()):
                raise ValueError(f"{fmu}: no provenance annotation naming a parameter file in resources/ (an FMU "
                                 "of a twin without a parameter file, or not built by fmutwin)")
            facts = dict(element.attrib)
            raw = z.read(facts["parameterFile"])
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{fmu}: not an FMU (zip) file: {exc}") from None
    except KeyError as exc:
        raise ValueError(f"{fmu}: no {exc.args[0]} in the archive") from None
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{fmu}: modelDescription.xml is malformed: {exc}") from None
    params = load(json.loads(raw), f"{fmu}:{facts['parameterFile']}")
    digest = hashlib.sha256(raw).hexdigest()
    if facts.get("parameterFileSha256") == digest:
        finding = Finding("ok", "FMU parameter file", f"sha256 {digest[:16]}... matches the modelDescription")
    else:
        finding = Finding("stale", "FMU parameter file", f"sha256 {digest[:16]}... != modelDescription "
                          f"{facts.get('parameterFileSha256', '')[:16]}...")
    return params, facts, [finding]


def describe(params: ParameterFile) -> list[str]:
    """The provenance chain of a parameter set as readable lines, from the ECM back to its sources."""
    rec = params.provenance or {}
    lines = [f"parameter set {params.name!r}: {params.source}"]
    fit = rec.get("fit") or {}
    if fit:
        settings = fit.get("settings", {})
        lines.append(f"  <- ECM fit: {settings.get('n_rc')} RC pair(s), {fit.get('method')}")
        for t in fit.get("per_temperature", []):
            res = ", ".join(f"{k} {1e3 * v['rms_V']:.2f}/{1e3 * v['max_V']:.1f} mV"
                            for k, v in t.get("residuals", {}).items())
            lines.append(f"       at {t['temperature_K']} K: residual RMS/max {res}")
    experiments = rec.get("experiments") or []
    if experiments:
        lines.append("  <- experiments on the electrochemical model: "
                     + ", ".join(f"{e['name']} ({e['role']})" for e in experiments)
                     + f" at {', '.join(str(t) for t in rec.get('temperatures_K', []))} K")
    source = rec.get("source_model") or {}
    if source:
        what = source.get("parameter_set") or (source.get("bpx_file") or {}).get("path")
        lines.append(f"  <- electrochemical model: {source.get('framework')} {source.get('pybamm_version', '')} "
                     f"{source.get('model')} {source.get('options', {})}, parameters {what} "
                     f"(content sha256 {str(source.get('parameter_values_sha256', ''))[:16]}...)"
                     + (f", overrides {source['parameter_overrides']}" if source.get("parameter_overrides") else ""))
        for key, label in (("var_pts", "mesh"), ("step", "step"), ("run_time_parameters", "run-time parameters")):
            if source.get(key):
                lines.append(f"     {label}: {source[key]}")
    calibration = rec.get("calibration")
    if calibration:
        lines.append(f"  <- calibration: {json.dumps(calibration.get('fitted', calibration), default=str)[:300]}")
    for where, entry in _file_entries(rec):
        lines.append(f"     input {entry.get('role', where)}: {entry['path']} (sha256 {entry['sha256'][:16]}...)")
    for v in rec.get("validation") or []:
        lines.append(f"  validation {v['experiment']} at {v['temperature_K']} K: RMS {1e3 * v['rms_V']:.2f} mV, "
                     f"max {1e3 * v['max_V']:.1f} mV")
    origin = rec.get("origin")
    if origin and origin.get("cell"):  # a module: its cells' file, then that file's own chain
        cell = origin["cell"]
        lines.append(f"  <- {origin.get('kind')} by {origin.get('converter')} from the cell set {cell.get('name')!r} "
                     f"(content sha256 {str(cell.get('content_sha256'))[:16]}...), variation "
                     f"{json.dumps(origin.get('variation', {}))}")
        inner = getattr(params, "cell", None)
        if inner is not None:
            lines += ["  " + line for line in describe(inner)]
    elif origin and "url" not in origin:  # assembled from a model, not converted from published data
        lines.append(f"  <- {origin.get('kind')} by {origin.get('converter')}, variation "
                     f"{json.dumps(origin.get('variation', {}))}")
    elif origin:
        lines.append(f"  <- {origin.get('kind')}: {origin.get('name')} ({origin.get('url')}), licence "
                     f"{origin.get('licence')}, by {origin.get('converter')}")
        for entry in origin.get("data_files") or []:
            lines.append(f"     data file {entry['file']} (sha256 {entry['sha256'][:16]}...)")
    gen = rec.get("generated_by") or {}
    if gen:
        git = gen.get("git") or {}
        lines.append(f"  made by fmutwin {gen.get('version')} (git {git.get('commit')}"
                     f"{', with local changes' if git.get('dirty') else ''}) on {gen.get('created_utc')}: "
                     f"{gen.get('command')}")
    env = rec.get("environment") or {}
    if env:
        lines.append("  with " + ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items() if v)
                     + f", Python {env.get('python')}")
    return lines


def main_text(path: str | Path, load: Loader) -> tuple[list[str], bool]:
    """What ``fmutwin provenance PATH`` prints, and whether the file is stale; ``load`` validates
    a parameter file's JSON (the composition root knows the kinds of parameter file)."""
    path = Path(path)
    lines: list[str] = []
    fmu_findings: list[Finding] = []
    if path.suffix.lower() == ".fmu":
        params, facts, fmu_findings = read_fmu(path, load)
        lines.append(f"FMU {path.name}: built from {facts['parameterFile']} "
                     f"(sha256 {facts.get('parameterFileSha256', '?')[:16]}...)")
    else:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        params = load(data, str(path))
        lines.append(f"parameter file {path}")
    lines += describe(params)
    findings = fmu_findings + check(params)
    lines.append("checks:")
    lines += [f"  {f}" for f in findings]
    stale = is_stale(findings)
    lines.append("STALE: " + "; ".join(f"{f.what}" for f in findings if f.status == "stale") if stale else
                 "status: up to date" + (" (some inputs not verifiable here)" if any(
                     f.status == "unverified" for f in findings) else ""))
    return lines, stale
