"""Generate, compile and package a native FMI 2.0 or 3.0 FMU of a twin (no Python at run time).

The twin's step, evaluated on CasADi symbols (``fmutwin.symbolic``), is generated as C; a
``model_config.h`` written from the twin's variable declaration binds value references to the
parameter vector, the initial state, the inputs and the outputs; the shell in this folder holds
the FMI logic for every twin. The FMU ships the binary for this platform and its C sources
(FMI 2.0 ``SourceFiles``), so another platform can build it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
import zipfile
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import numpy as np

from fmutwin.fmi.model_description import complete
from fmutwin.interface import EquationSpec, TwinExport, Variable, flat
from fmutwin.symbolic import input_dependencies, symbolic_initial_state, symbolic_step

#: the step used to evaluate the outputs at a state with the current inputs (the end of
#: initialisation) [s]: the state moves by ~1e-14 of its range
LOOK_STEP_S = 1e-12

HERE = Path(__file__).resolve().parent
MODEL_C = "model.c"
DERIVATIVES_C = "model_derivatives.c"  # output function and state Jacobian, shipped for EKF users
PLATFORM_DIR = {2: "linux64", 3: "x86_64-linux"}
HEADERS = {2: ("fmi2Functions.h", "fmi2FunctionTypes.h", "fmi2TypesPlatform.h"),
           3: ("fmi3Functions.h", "fmi3FunctionTypes.h", "fmi3PlatformTypes.h")}


def shell_file(version: int) -> str:
    """The version binding of the shell (it includes shell_core.c)."""
    return f"shell_fmi{version}.c"


def common_file(version: int) -> str:
    """The FMI functions written once for the native shell and the out-of-process proxy (log
    adapter, version, debug logging, what no fmutwin FMU offers)."""
    return f"fmi{version}_common.c"


def fmi_headers_dir() -> Path:
    """FMI 2.0/3.0 headers (fmpy ships the standard's headers)."""
    import fmpy

    return Path(fmpy.__file__).parent / "c-code"


def _c_array(values: list[float]) -> str:
    return "{" + ", ".join(repr(float(v)) for v in values) + "}"


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Bound:
    """A declared variable (or, in FMI 2.0, one element of an array) with its value reference and
    slot: kind ('p' parameter vector, 'u' input, 'y' output, 'z' an output the structure lacks,
    't' time), first index, number of elements, and which element of its variable it starts at."""

    def __init__(self, var: Variable, vr: int, kind: str, index: int, count: int, name: str, element: int = 0) -> None:
        self.var, self.vr, self.kind, self.index, self.count = var, vr, kind, index, count
        self.name, self.element = name, element


def _bind(spec: EquationSpec, sym_inputs: tuple[str, ...], sym_outputs: tuple[str, ...],
          leaf_offsets: dict[str, tuple[int, int]], version: int) -> list[_Bound]:
    """Every declared variable bound to its slot, in declaration order (the value references);
    FMI 2.0 gets one row per array element, named ``name[i]``."""
    bound: list[_Bound] = []

    def add(var: Variable, kind: str, index: int) -> None:
        if version == 3 or not var.dimensions:
            bound.append(_Bound(var, len(bound), kind, index, var.size, var.name))
            return
        for k, name in enumerate(var.element_names()):
            bound.append(_Bound(var, len(bound), kind, index + k, 1, name, k))

    for var, leaf in spec.parameters:
        offset, size = leaf_offsets[leaf]
        if size != var.size:
            raise ValueError(f"parameter {var.name}: {var.size} elements declared, parameter {leaf} has {size}")
        add(var, "p", offset)
    for var, key in spec.inputs:
        add(var, "u", _slot(sym_inputs, key, var))
    for var, key in spec.outputs:  # an output this structure lacks (e.g. a 3rd RC pair) reads 0
        if key in sym_outputs or f"{key}[0]" in sym_outputs:
            add(var, "y", _slot(sym_outputs, key, var))
        else:
            add(var, "z", 0)
    return bound


def _slot(names: tuple[str, ...], key: str, var: Variable) -> int:
    """Where a variable's elements sit among the step's inputs or outputs: a scalar at ``key``, an
    array at ``key[0]``, ``key[1]``, ... (consecutive, row-major)."""
    if not var.dimensions or (var.size == 1 and key in names):  # an array of one element may be a scalar entry
        return names.index(key)
    first = names.index(f"{key}[0]")
    if list(names[first:first + var.size]) != [f"{key}[{k}]" for k in range(var.size)]:
        raise ValueError(f"variable {var.name}: the step's entries {key}[0..{var.size - 1}] are not consecutive")
    return first


def _c_double(x: float) -> str:
    if np.isinf(x):
        return "HUGE_VAL" if x > 0 else "-HUGE_VAL"
    return repr(float(x))


def _model_config(model: str, guid: str, spec: EquationSpec, fast: Any, init: Any, bound: list[_Bound],
                  p_vec: np.ndarray) -> str:
    """model_config.h: sizes, defaults and the generated functions the shell calls."""
    u_start = [0.0] * len(fast.input_names)
    for b in bound:
        if b.kind == "u":
            starts = flat(b.var.start)
            for e in range(b.count):
                u_start[b.index + e] = float(starts[b.element + e])
    y_names = ", ".join(_c_string(n) for n in fast.output_names)
    x_time = spec.state_names.index(spec.time_state) if spec.time_state else -1
    return f"""/* Generated by fmutwin.fmi.native.build for {model}: do not edit. */
#ifndef MODEL_CONFIG_H
#define MODEL_CONFIG_H
#include "model.h"
#define MODEL_GUID {_c_string(guid)}
#define NX {len(spec.state_names)}
#define NU {len(u_start)}
#define NY {len(fast.output_names)}
#define NP {len(p_vec)}
#define ND {fast.derive.size1_out(0)}
#define STEP_FUNCTION {fast.function.name()}
#define STEP_WORK {fast.function.name()}_work
#define DERIVE_FUNCTION {fast.derive.name()}
#define DERIVE_WORK {fast.derive.name()}_work
#define INIT_FUNCTION {init.name()}
#define INIT_WORK {init.name()}_work
#define X_TIME {x_time}
#define U_DT {fast.input_names.index(spec.dt_input)}
#define LOOK_STEP {LOOK_STEP_S!r} /* outputs at a state with the current inputs: a step this short */
static const double P_DEFAULT[NP] = {_c_array(p_vec.tolist())};
static const double U_START[NU] = {_c_array(u_start)};
static const char *const Y_NAMES[NY] = {{{y_names}}};
#endif
"""


_TYPE_CODE = {"Real": "R", "Integer": "I", "Boolean": "B"}


def _model_vars(bound: list[_Bound], time_vr: int | None) -> str:
    """model_vars.h: the value-reference table (FMI 3.0 adds its independent variable, time).

    A bound named by a parameter is stored as that parameter's slot in the parameter vector and a
    sign; a structural parameter's range is its start value alone."""
    by_name = {b.var.name: b for b in bound if b.kind == "p"}
    rows = []
    for b in bound:
        var = b.var
        limits = []
        for bound_value, default in ((var.min, -np.inf), (var.max, np.inf)):
            if isinstance(bound_value, str):
                ref = by_name[bound_value.lstrip("-")]
                limits.append((default, ref.index, -1.0 if bound_value.startswith("-") else 1.0))
            else:
                limits.append((default if bound_value is None else float(bound_value), -1, 1.0))
        if var.structural:
            limits = [(float(var.start), -1, 1.0), (float(var.start), -1, 1.0)]
        (lo, lo_p, lo_s), (hi, hi_p, hi_s) = limits
        warn_lo, warn_hi = var.warn_range or (-np.inf, np.inf)
        rows.append(f"    {{{b.vr}u, '{b.kind}', '{_TYPE_CODE[var.type]}', {b.index}, {b.count}, {b.element}, "
                    f"{_c_double(lo)}, {_c_double(hi)}, {lo_p}, {hi_p}, {lo_s!r}, {hi_s!r}, {int(var.increasing)}, "
                    f"{_c_double(warn_lo)}, {_c_double(warn_hi)}, {_c_string(b.name)}, "
                    f"{_c_string(f' {var.unit}' if var.unit and var.unit != '1' else '')}, "
                    f"{_c_string(var.min if isinstance(var.min, str) else '')}, "
                    f"{_c_string(var.max if isinstance(var.max, str) else '')}}},")
    if time_vr is not None:
        rows.append(f"    {{{time_vr}u, 't', 'R', 0, 1, 0, -HUGE_VAL, HUGE_VAL, -1, -1, 1.0, 1.0, 0, "
                    '-HUGE_VAL, HUGE_VAL, "time", " s", "", ""},')
    inputs = [str(i) for i, b in enumerate(bound) if b.kind == "u"]  # checked before every step
    warned = [str(i) for i, b in enumerate(bound) if b.kind == "y" and b.var.warn_range is not None]
    limited = [str(i) for i, b in enumerate(bound) if b.kind == "y" and (b.var.min is not None or b.var.max is not None)]
    return (f"#define NVARS {len(rows)}\nstatic const VarInfo VARS[NVARS] = {{\n" + "\n".join(rows) + "\n};\n"
            f"#define NINPUTS {len(inputs)}\nstatic const int INPUT_ROWS[NINPUTS > 0 ? NINPUTS : 1] = "
            f"{{{', '.join(inputs) or '0'}}};\n"
            f"#define NWARNED {len(warned)}\nstatic const int WARNED_ROWS[NWARNED > 0 ? NWARNED : 1] = "
            f"{{{', '.join(warned) or '0'}}};\n"
            f"#define NLIMITED {len(limited)}\nstatic const int LIMITED_ROWS[NLIMITED > 0 ? NLIMITED : 1] = "
            f"{{{', '.join(limited) or '0'}}};\n")


def _start_text(var: Variable, element: int) -> str:
    values = flat(var.start)
    fmt = {"Real": lambda v: repr(float(v)), "Integer": lambda v: str(int(v)),
           "Boolean": lambda v: "true" if v else "false"}[var.type]
    if var.dimensions and element >= 0:
        return fmt(values[element])
    return " ".join(fmt(v) for v in values)


_XML_TYPES = {3: {"Real": "Float64", "Integer": "Int32", "Boolean": "Boolean"}}


def _model_description(version: int, model: str, guid: str, description: str, bound: list[_Bound],
                       dependencies: dict[str, tuple[str, ...]]) -> bytes:
    """The modelDescription.xml, from the same declaration as the Python FMUs."""
    common = {"modelName": model, "generationTool": "fmutwin (native, CasADi-generated C)",
              "variableNamingConvention": "structured"}
    caps = {"modelIdentifier": model, "canHandleVariableCommunicationStepSize": "true",
            "canBeInstantiatedOnlyOncePerProcess": "false"}
    if version == 2:
        root = Element("fmiModelDescription", fmiVersion="2.0", guid=guid, numberOfEventIndicators="0", **common)
        cs = SubElement(root, "CoSimulation", canGetAndSetFMUstate="true", canSerializeFMUstate="true",
                        canNotUseMemoryManagementFunctions="true", **caps)
        files = SubElement(cs, "SourceFiles")
        for name in (shell_file(2), MODEL_C):
            SubElement(files, "File", name=name)
    else:
        root = Element("fmiModelDescription", fmiVersion="3.0", instantiationToken=guid, **common)
        SubElement(root, "CoSimulation", canGetAndSetFMUState="true", canSerializeFMUState="true",
                   providesIntermediateUpdate="false", hasEventMode="false", **caps)
    cats = SubElement(root, "LogCategories")
    for name in ("logStatusWarning", "logStatusDiscard", "logStatusError"):
        SubElement(cats, "Category", name=name)
    variables = SubElement(root, "ModelVariables")
    if version == 3:
        SubElement(variables, "Float64", name="time", valueReference=str(len(bound)), causality="independent",
                   variability="continuous", description="simulation time")
    for b in bound:
        var = b.var
        attrib = {"name": b.name, "valueReference": str(b.vr), "description": var.description,
                  "causality": var.causality, "variability": var.variability}
        if version == 2:
            child = SubElement(SubElement(variables, "ScalarVariable", attrib), var.type)
        else:
            child = SubElement(variables, _XML_TYPES[3][var.type], attrib)
            for n in var.dimensions:
                SubElement(child, "Dimension", start=str(n))
        if var.causality in ("parameter", "input"):
            child.set("start", _start_text(var, b.element if version == 2 else -1))
    SubElement(root, "ModelStructure")
    complete(root, list({b.var.name: b.var for b in bound}.values()), version, description, dependencies)
    root.set("description", root.get("description", "").split(" Python FMU:")[0]
             + " Native FMU: generated C, no Python needed at run time.")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root)


def _build_description(model: str) -> bytes:
    """FMI 3.0 sources/buildDescription.xml."""
    root = Element("fmiBuildDescription", fmiVersion="3.0")
    config = SubElement(root, "BuildConfiguration", modelIdentifier=model)
    files = SubElement(config, "SourceFileSet", language="C99")
    for name in (shell_file(3), MODEL_C):
        SubElement(files, "SourceFile", name=name)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root)


def model_functions(spec: EquationSpec, model: str, fast: Any, init: Any) -> list:
    """The generated functions: the step (x, u, p, d) -> (x_next, y) the shell calls, derive(p) -> d
    (the MX form ``fast``: tables read in place, parameter-only quantities computed once per
    parameter set) and the initial state p -> x0; with ``spec.derivatives`` also the output
    function (x, u, p) -> y and the dense state Jacobian d x_next / d x (for an EKF) from the SX
    form. Those two go to their own C file: shipped in sources/, not compiled into the FMU binary
    (their size would multiply its build time and the shell does not call them)."""
    import casadi as ca

    functions = [fast.function, fast.derive, init]
    if not spec.derivatives:
        return functions
    sym = symbolic_step(spec.step, spec.structure, spec.p, list(spec.state_names), spec.input_names,
                        name=f"{model.lower()}_step")
    if fast.output_names != sym.output_names:
        raise RuntimeError("the SX and MX forms of the step disagree on their outputs")
    name = sym.function.name()
    x = ca.SX.sym("x", sym.function.size1_in(0))
    u = ca.SX.sym("u", sym.function.size1_in(1))
    p = ca.SX.sym("p", sym.function.size1_in(2))
    x_next, y = sym.function(x, u, p)
    return functions + [ca.Function(f"{name}_outputs", [x, u, p], [y], ["x", "u", "p"], ["y"]),
                        ca.Function(f"{name}_jac_x", [x, u, p], [ca.densify(ca.jacobian(x_next, x))],
                                    ["x", "u", "p"], ["jac_x_next_x"])]


def compile_binary(sources: Path, output: Path, version: int) -> None:
    """Compile the shell and the generated model into a shared library exporting only FMI."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # the two errors are gcc 14's defaults: the sources must build with the compilers users have
    cmd = ["gcc", "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-DCASADI_SYMBOL_EXPORT=",
           "-Werror=incompatible-pointer-types", "-Werror=implicit-function-declaration",
           f"-I{sources}", f"-I{fmi_headers_dir()}", "-o", str(output),
           str(sources / shell_file(version)), str(sources / MODEL_C), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"gcc failed ({' '.join(cmd)}):\n{proc.stderr}")


def build_native_fmu(spec: EquationSpec, model: str, description: str, out_file: Path, version: int = 2) -> Path:
    """Write ``out_file``: an FMI ``version`` co-simulation FMU with binary and sources."""
    import casadi as ca

    states = list(spec.state_names)
    fast = symbolic_step(spec.step, spec.structure, spec.p, states, spec.input_names, name=f"{model.lower()}_step",
                         kind="MX")
    init = symbolic_initial_state(spec.initial_state, spec.structure, spec.p, states,
                                  name=f"{model.lower()}_initial_state", kind="MX")
    p_vec = fast.layout.pack(spec.p)
    offsets, offset = {}, 0
    for path, shape in zip(fast.layout.paths, fast.layout.shapes):
        size = int(np.prod(shape))
        offsets[path] = (offset, size)
        offset += size
    bound = _bind(spec, fast.input_names, fast.output_names, offsets, version)
    guid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"fmutwin:{model}:{version}:{p_vec.tobytes().hex()}")) + "}"
    with tempfile.TemporaryDirectory(prefix="fmutwin_native_") as tmp:
        root = Path(tmp)
        sources = root / "sources"
        sources.mkdir()
        step, derive, initial, *derivatives = model_functions(spec, model, fast, init)
        for file_name, functions in ((MODEL_C, [step, derive, initial]), (DERIVATIVES_C, derivatives)):
            if not functions:
                continue
            cg = ca.CodeGenerator(file_name, {"with_header": True})
            for function in functions:
                cg.add(function)
            cg.generate(str(sources) + "/")
        (sources / "model_config.h").write_text(_model_config(model, guid, spec, fast, init, bound, p_vec))
        (sources / "model_vars.h").write_text(_model_vars(bound, len(bound) if version == 3 else None))
        for name in ("shell_core.c", shell_file(version), common_file(version)):
            shutil.copy(HERE / name, sources / name)
        for header in HEADERS[version]:
            shutil.copy(fmi_headers_dir() / header, sources / header)
        if version == 3:
            (sources / "buildDescription.xml").write_bytes(_build_description(model))
        compile_binary(sources, root / "binaries" / PLATFORM_DIR[version] / f"{model}.so", version)
        (root / "modelDescription.xml").write_bytes(
            _model_description(version, model, guid, description, bound, input_dependencies(spec)))
        out_file = Path(out_file)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out_file, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root).as_posix())
    return out_file


def build_native(twin: TwinExport, out_dir: Path, version: int = 2) -> Path:
    """The native FMU of ``twin``: ``<Model>Native_fmi<version>.fmu`` in ``out_dir``, with the
    twin's parameter file and provenance (:func:`fmutwin.fmi.build.finish`)."""
    from fmutwin.fmi.build import building_from, finish

    if twin.equations is None:
        raise ValueError(f"twin {twin.name!r} has no native export")
    model = f"{twin.model_name}Native"
    with building_from(twin):
        spec = twin.equations()
    fmu = build_native_fmu(spec, model, twin.description, Path(out_dir) / f"{model}_fmi{version}.fmu",
                           version)
    return finish(fmu, twin)
