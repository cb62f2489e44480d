"""Building Python FMUs (pythonfmu for FMI 2.0, pythonfmu3 for FMI 3.0) of a twin.

Each FMU carries a copy of the fmutwin package in ``resources/`` (so it runs where fmutwin is
not installed; numpy, scipy and pydantic must be importable by the host's Python), a marker
telling the shared slave source which FMI version it is, and the twin's parameter file with its
provenance (:func:`finish`). The twin comes as a :class:`fmutwin.interface.TwinExport` from the
composition root; this module looks up none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import fmutwin
from fmutwin.fmi.python_slave import VERSION_ENV, VERSION_FILE
from fmutwin.interface import TwinExport

GUARD_FILE = "_fmutwin_guard.py"  # imported first by every slave source
#: names the twin's parameter file while its Python FMU is built (the slave is instantiated to
#: write the modelDescription before the FMU, and so its resources folder, exists)
BUILD_FILE_ENV = "FMUTWIN_BUILD_PARAMETER_FILE"
SOURCES_PACKAGE = "fmutwin.fmu_sources"  # the project's fmu_sources/, installed inside the package


def fmu_sources_dir() -> Path:
    """The thin slave sources: the project's ``fmu_sources/``, which the package carries as
    ``fmutwin.fmu_sources`` (editable or wheel install); FMUTWIN_FMU_SOURCES overrides it."""
    if os.environ.get("FMUTWIN_FMU_SOURCES"):
        folder = Path(os.environ["FMUTWIN_FMU_SOURCES"])
    else:
        from importlib import resources

        folder = Path(str(resources.files(SOURCES_PACKAGE)))
    if not folder.is_dir():
        raise FileNotFoundError(f"FMU slave sources not found at {folder}; reinstall fmutwin or set "
                                "FMUTWIN_FMU_SOURCES")
    return folder


def fmu_file_name(twin: TwinExport, version: int) -> str:
    """``CellECM_fmi2.fmu`` style names: model identifier plus FMI version."""
    return f"{twin.model_name}_fmi{version}.fmu"


def finish(fmu: Path, twin: TwinExport) -> Path:
    """Ship the twin's parameter file in the FMU's resources and annotate its provenance
    (every FMU of a twin that has a parameter file, Python or native)."""
    if twin.parameter_file is not None:
        from fmutwin.provenance import embed

        embed(fmu, twin.parameter_file(), twin.parameter_file_name)
    return fmu


@contextlib.contextmanager
def building_from(twin: TwinExport) -> Iterator[None]:
    """While an FMU of ``twin`` is built: ``FMUTWIN_BUILD_PARAMETER_FILE`` names the parameter file
    it is built from (its declaration and equations are read from that file), then is restored."""
    previous = os.environ.get(BUILD_FILE_ENV)
    if twin.parameter_file is not None:
        os.environ[BUILD_FILE_ENV] = str(Path(twin.parameter_file()).resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(BUILD_FILE_ENV, None)
        else:
            os.environ[BUILD_FILE_ENV] = previous


def build_python_fmu(twin: TwinExport, version: int, out_dir: Path, runner: str = "process") -> Path:
    """Build one Python FMU of ``twin`` for FMI ``version`` (2 or 3) into ``out_dir``.

    ``runner`` "process" (the default): the FMU's binary is fmutwin's native proxy and each instance
    runs in a Python worker process (:mod:`fmutwin.fmi.process`; any FMI host, nothing to
    preload). "in-process": pythonfmu's binary, which runs the slave in the host's own process
    (the host must provide libpython: :mod:`fmutwin.fmi.host_env`).
    """
    from fmutwin.fmi.process.build import RUNNERS, make_out_of_process

    if version not in (2, 3):
        raise ValueError(f"FMI version {version}: only 2 and 3 are supported")
    if runner not in RUNNERS:
        raise ValueError(f"runner {runner!r}: expected one of {', '.join(RUNNERS)}")
    script = Path(twin.slave_source) if twin.slave_source else fmu_sources_dir() / f"{twin.name}.py"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fmutwin_build_") as tmp:
        stage = Path(tmp)
        package = stage / "fmutwin"
        shutil.copytree(Path(fmutwin.__file__).parent, package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "fmu_sources"))
        guard = fmu_sources_dir() / GUARD_FILE
        marker = stage / VERSION_FILE
        marker.write_text(str(version))
        project_files = [package, marker, guard, *(Path(m) for m in twin.modules)]
        previous = os.environ.get(VERSION_ENV)
        os.environ[VERSION_ENV] = str(version)
        sys.path.insert(0, str(fmu_sources_dir()))  # the builder imports the source, which imports the guard
        with building_from(twin):
            try:
                if version == 2:
                    from pythonfmu import FmuBuilder

                    from fmutwin.fmi.fmi2 import OPTIONS
                else:
                    from pythonfmu3 import FmuBuilder  # type: ignore[no-redef]

                    from fmutwin.fmi.fmi3 import OPTIONS  # type: ignore[no-redef]
                built = FmuBuilder.build_FMU(script, dest=stage / "out", project_files=project_files, **OPTIONS)
            finally:
                sys.path.remove(str(fmu_sources_dir()))
                if previous is None:
                    os.environ.pop(VERSION_ENV, None)
                else:
                    os.environ[VERSION_ENV] = previous
        target = out_dir / fmu_file_name(twin, version)
        shutil.move(str(built), target)
    if runner == "process":
        make_out_of_process(target, version)
    return finish(target, twin)
