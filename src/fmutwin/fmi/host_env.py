"""Environment variables a non-Python host process needs to run fmutwin's in-process Python FMUs.

(Out-of-process FMUs, the default build, need none: see :mod:`fmutwin.fmi.process`.)

A pythonfmu / pythonfmu3 FMU binary calls CPython but does not link libpython: inside a Python
importer (fmpy, ...) it finds the running interpreter, while any other process (a C/C++ master,
a Modelica tool, ...) fails to load it with ``undefined symbol: _Py_NoneStruct``. Such a host
needs, on Linux:

``LD_PRELOAD``
    the full path of the shared libpython of the Python whose environment the FMU is to use;
``PYTHONHOME``
    that Python's installation prefix (``sys.base_prefix``), so the embedded interpreter finds
    its standard library even when the installation was moved from where it was built
    (python-build-standalone / uv, conda, ...);
``PYTHONPATH``
    the site-packages directories of the current environment (a venv's own, not only the base
    installation's), so numpy, scipy and pydantic import with the versions installed here.

Nothing else: the FMU finds its resources (and the copy of fmutwin in them) through the resource
location the host passes when instantiating it, and it initializes the embedded interpreter
itself. :func:`host_environment` computes the three values for the running interpreter and
:func:`format_shell` prints them as ``export`` lines.
"""

from __future__ import annotations

import os
import shlex
import site
import sys
import sysconfig
import zipfile
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Mapping

#: Present in every pythonfmu / pythonfmu3 FMU: the module holding the slave class.
PYTHON_FMU_MARKER = "resources/slavemodule.txt"

#: What the FMU's Python code imports from the environment (fmutwin itself is in its resources).
REQUIRED_MODULES = ("numpy", "scipy", "pydantic")


def _loaded_libpython() -> Path | None:
    """The libpython shared library mapped into this process, if the interpreter uses one."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and Path(parts[5]).name.startswith("libpython") and ".so" in parts[5]:
            path = Path(parts[5])
            if path.is_file():
                return path
    return None


def _libpython_candidates() -> tuple[list[str], list[Path]]:
    """File names and directories where this interpreter's shared libpython can be."""
    var = sysconfig.get_config_var
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    abiflags = getattr(sys, "abiflags", "") or ""
    names = [n for n in (var("INSTSONAME"), var("LDLIBRARY"), f"libpython{version}{abiflags}.so.1.0",
                         f"libpython{version}{abiflags}.so") if n and ".so" in n and "/" not in n]
    multiarch = var("MULTIARCH") or ""
    bases = [Path(p) for p in (var("LIBDIR"), Path(sys.base_prefix) / "lib", var("LIBPL")) if p]
    dirs = [d for base in bases for d in ((base, base / multiarch) if multiarch else (base,))]
    return list(dict.fromkeys(names)), list(dict.fromkeys(dirs))


def libpython_path() -> Path:
    """Full path of the shared libpython of the running interpreter.

    The library mapped into this process when there is one (a ``--enable-shared`` build, e.g.
    pyenv's with ``PYTHON_CONFIGURE_OPTS=--enable-shared``: a venv's ``python`` is a link to
    such a base install, which loads it). Otherwise (a statically linked ``python``, as Debian's
    or conda's) the shared library of the same version that the installation ships next to it,
    found from sysconfig's ``INSTSONAME`` / ``LDLIBRARY`` in ``LIBDIR`` (and its multiarch
    subdirectory) or in ``sys.base_prefix/lib``.

    Raises:
        RuntimeError: no shared libpython exists for this interpreter, saying what to do.
    """
    loaded = _loaded_libpython()
    if loaded is not None:
        return loaded
    names, dirs = _libpython_candidates()
    for folder in dirs:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate.absolute()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
    raise RuntimeError(
        f"this Python ({sys.executable}, {sys.version.split()[0]}) has no shared libpython: "
        f"Py_ENABLE_SHARED = {shared}, and none of {names} is in {[str(d) for d in dirs]}. "
        "A Python FMU run by a host that is not Python needs libpython loaded into that host. "
        "Use a Python built with a shared library and create the environment with it: pyenv: "
        f"`env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install {version}`; Debian/Ubuntu "
        f"system Python: `apt-get install libpython{version}`; python.org, conda and uv Pythons "
        "ship one. Then run `fmutwin env` with that Python.")


def python_home() -> str:
    """``PYTHONHOME``: the base installation's prefix (``prefix:exec_prefix`` if they differ)."""
    if sys.base_exec_prefix != sys.base_prefix:
        return f"{sys.base_prefix}{os.pathsep}{sys.base_exec_prefix}"
    return sys.base_prefix


def _pth_entries(site_dir: Path) -> list[str]:
    """Directories that the ``.pth`` files of ``site_dir`` add to ``sys.path`` (not their imports)."""
    entries = []
    for pth in sorted(site_dir.glob("*.pth")):
        try:
            lines = pth.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = os.path.abspath(os.path.join(site_dir, line))
            if os.path.isdir(path):
                entries.append(path)
    return entries


def site_directories() -> list[str]:
    """``PYTHONPATH`` entries: this environment's site-packages directories (a venv's own first,
    then the base installation's when the venv includes them; the user site when this
    interpreter uses it), each followed by the directories its ``.pth`` files add."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.insert(0, site.getusersitepackages())
    entries: list[str] = []
    for d in dirs:
        path = Path(d)
        if path.is_dir():
            entries.append(str(path))
            entries.extend(_pth_entries(path))
    return list(dict.fromkeys(entries))


def _check_fmu(fmu_path: str | Path) -> None:
    """ValueError unless ``fmu_path`` is a pythonfmu / pythonfmu3 FMU (file or unzipped folder)."""
    path = Path(fmu_path)
    if path.is_dir():
        is_python = (path / PYTHON_FMU_MARKER).is_file()
    elif path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                is_python = PYTHON_FMU_MARKER in archive.namelist()
        except zipfile.BadZipFile:
            raise ValueError(f"{path}: not an FMU (not a zip archive)") from None
    else:
        raise ValueError(f"{path}: no such FMU file or folder")
    if not is_python:
        raise ValueError(f"{path}: not a Python FMU (no {PYTHON_FMU_MARKER}); it needs no Python environment")
    from fmutwin.fmi.process.build import recorded_interpreter

    worker = recorded_interpreter(path)
    if worker is not None:
        raise ValueError(f"{path}: an out-of-process FMU; a host needs no environment for it (its worker runs "
                         f"{worker}; the parameter pythonExecutable or FMUTWIN_PYTHON choose another)")


def host_environment(fmu_path: str | Path | None = None) -> dict[str, str]:
    """The environment variables a non-Python host process needs on this machine to run
    fmutwin's Python FMUs with the running interpreter's environment.

    Returns ``{"LD_PRELOAD": ..., "PYTHONHOME": ..., "PYTHONPATH": ...}`` (see the module
    docstring). Add them to the host's environment; drop any other ``PYTHON*`` variables there
    (a stray ``PYTHONHOME`` or ``PYTHONSTARTUP`` acts on the embedded interpreter too). The
    values replace, not extend, existing ones: prepend an existing ``LD_PRELOAD`` yourself if
    the host needs it.

    Args:
        fmu_path: optionally an FMU file or unzipped FMU folder, checked to be a Python FMU.
            The values do not depend on it: an FMU needs nothing beyond these variables.

    Raises:
        RuntimeError: this interpreter has no shared libpython (see :func:`libpython_path`), a
            path cannot be written into these variables, numpy/scipy/pydantic is not
            importable from the exported directories, or the platform is not Linux.
        ValueError: ``fmu_path`` is not a Python FMU.
    """
    if fmu_path is not None:
        _check_fmu(fmu_path)
    if not sys.platform.startswith("linux"):
        raise RuntimeError(f"host_environment is for Linux hosts (LD_PRELOAD); this is {sys.platform}")
    library = str(libpython_path())
    if any(c in library for c in " :"):
        raise RuntimeError(f"LD_PRELOAD cannot hold {library!r} (space or colon in the path): "
                           "link the library from a plain path and preload that")
    home = python_home()
    path_entries = site_directories()
    bad = [p for p in path_entries if os.pathsep in p]
    if bad:
        raise RuntimeError(f"PYTHONPATH cannot hold {bad} (a '{os.pathsep}' in the path)")
    # What the embedded interpreter will see: PYTHONPATH, then the base site-packages it adds itself.
    search = path_entries + [p for p in site.getsitepackages([sys.base_prefix]) if p not in path_entries]
    missing = [m for m in REQUIRED_MODULES if PathFinder.find_spec(m, search) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not found in {search}: the FMU's Python code needs "
                           f"{', '.join(REQUIRED_MODULES)}; install them into this environment "
                           f"({sys.prefix}) with `{sys.executable} -m pip install ...`")
    return {"LD_PRELOAD": library, "PYTHONHOME": home, "PYTHONPATH": os.pathsep.join(path_entries)}


def format_shell(env: Mapping[str, str]) -> str:
    """``export NAME=value`` lines (values shell-quoted) for POSIX shells, in ``env``'s order."""
    for name in env:
        if not name.isidentifier() or not name.isascii():
            raise ValueError(f"not an environment variable name: {name!r}")
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in env.items())
