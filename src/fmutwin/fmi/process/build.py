"""The out-of-process form of a Python FMU: the same FMU with a small native binary in place of
pythonfmu's, which runs the slave in a Python worker process per instance.

:func:`make_out_of_process` rewrites a Python FMU built by :mod:`fmutwin.fmi.build`: its
modelDescription, slave source, fmutwin copy and parameter file stay as they are (the worker runs
exactly what the in-process FMU runs); the binaries become ``proxy_fmi2.c`` / ``proxy_fmi3.c``
compiled for this platform with the FMU's token; the modelDescription gains one String parameter,
``pythonExecutable`` (the worker's interpreter; empty: the environment variable FMUTWIN_PYTHON,
then the interpreter recorded here in ``resources/fmutwin_python.txt``, then python3 on PATH).
The binary's C sources go into the FMU's ``sources/`` beside it. Linux only (posix_spawn and Unix
sockets).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, fromstring, tostring

from fmutwin.atomic import atomic_write
from fmutwin.fmi.native.build import HEADERS, PLATFORM_DIR, fmi_headers_dir, common_file

HERE = Path(__file__).resolve().parent
NATIVE = HERE.parent / "native"
PYTHON_FILE = "resources/fmutwin_python.txt"  # as in proxy_core.c
PYTHON_PARAMETER = "pythonExecutable"
RUNNERS = ("process", "in-process")
MARK = " Out of process: each instance runs in its own Python worker process (parameter pythonExecutable)."


def proxy_sources(version: int) -> list[Path]:
    """The C files of the proxy binary for FMI ``version``: API, core, and the shared stubs."""
    return [HERE / f"proxy_fmi{version}.c", HERE / "proxy_core.c", NATIVE / common_file(version)]


def compile_proxy(version: int, token: str, python_vr: int, output: Path, sources: Path) -> None:
    """Compile the proxy for one FMU (its token and the interpreter parameter's value reference)."""
    sources.mkdir(parents=True, exist_ok=True)
    for path in proxy_sources(version):
        shutil.copy(path, sources / path.name)
    for header in HEADERS[version]:
        shutil.copy(fmi_headers_dir() / header, sources / header)
    (sources / "proxy_config.h").write_text(
        f"#define MODEL_GUID {_c_string(token)}\n#define PYTHON_PARAMETER_VR {python_vr}u\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", "-shared", "-fPIC", "-O2", "-fvisibility=hidden",
           "-Werror=incompatible-pointer-types", "-Werror=implicit-function-declaration", "-Wall",
           f"-I{sources}", "-o", str(output), str(sources / f"proxy_fmi{version}.c")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or "warning" in proc.stderr:
        raise RuntimeError(f"gcc failed on the out-of-process proxy ({' '.join(cmd)}):\n{proc.stderr}")


def _build_description(model_id: str) -> bytes:
    """FMI 3.0 sources/buildDescription.xml: the proxy is one translation unit."""
    root = Element("fmiBuildDescription", fmiVersion="3.0")
    config = SubElement(root, "BuildConfiguration", modelIdentifier=model_id)
    SubElement(SubElement(config, "SourceFileSet", language="C99"), "SourceFile", name="proxy_fmi3.c")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root)


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _add_interpreter_parameter(root: Element, version: int) -> int:
    """Append the String parameter pythonExecutable (start ""); its value reference."""
    variables = root.find("ModelVariables")
    vr = 1 + max(int(v.get("valueReference", "0")) for v in variables.iter() if v.get("valueReference"))
    attrib = {"name": PYTHON_PARAMETER, "valueReference": str(vr), "causality": "parameter",
              "variability": "fixed", "description": "Python interpreter of the worker process (empty: "
              "FMUTWIN_PYTHON, then the one this FMU was built with, then python3 on PATH)"}
    if version == 2:
        SubElement(SubElement(variables, "ScalarVariable", attrib), "String", start="")
    else:
        SubElement(SubElement(variables, "String", attrib), "Start", value="")
    return vr


def make_out_of_process(fmu: Path, version: int) -> Path:
    """Rewrite the Python FMU ``fmu`` (FMI ``version``) into its out-of-process form, in place."""
    fmu = Path(fmu)
    with zipfile.ZipFile(fmu) as archive:
        entries = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    root = fromstring(entries["modelDescription.xml"])
    token = root.get("guid" if version == 2 else "instantiationToken")
    model_id = root.find("CoSimulation").get("modelIdentifier")
    if root.find(f"ModelVariables/*[@name='{PYTHON_PARAMETER}']") is not None:
        raise ValueError(f"{fmu} is already an out-of-process FMU")
    python_vr = _add_interpreter_parameter(root, version)
    root.set("description", (root.get("description") or "") + MARK)
    # pythonfmu's binaries and (FMI 3.0) its C++ sources go; the proxy's take their place
    entries = {k: v for k, v in entries.items() if not k.startswith(("binaries/", "sources/"))}
    entries["modelDescription.xml"] = b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root)
    entries[PYTHON_FILE] = (sys.executable + "\n").encode()
    with tempfile.TemporaryDirectory(prefix="fmutwin_proxy_") as tmp:
        stage = Path(tmp)
        binary = stage / "binaries" / PLATFORM_DIR[version] / f"{model_id}.so"
        compile_proxy(version, token, python_vr, binary, stage / "sources")
        if version == 3:
            (stage / "sources" / "buildDescription.xml").write_bytes(_build_description(model_id))
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                entries[path.relative_to(stage).as_posix()] = path.read_bytes()
    with atomic_write(fmu) as partial, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return fmu


def recorded_interpreter(fmu: str | Path) -> str | None:
    """The interpreter recorded in an out-of-process FMU (file or unzipped folder); None if the
    FMU is not out of process."""
    path = Path(fmu)
    if path.is_dir():
        recorded = path / PYTHON_FILE
        return recorded.read_text().strip() if recorded.is_file() else None
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(PYTHON_FILE).decode().strip() if PYTHON_FILE in archive.namelist() else None
    except (zipfile.BadZipFile, FileNotFoundError):
        return None
