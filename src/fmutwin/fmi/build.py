"""Building Python FMUs (pythonfmu for FMI 2.0, pythonfmu3 for FMI 3.0) of registered twins.

Each FMU carries a copy of the fmutwin package in ``resources/`` (so it runs where fmutwin is
not installed; numpy, scipy and pydantic must be importable by the host's Python) and a marker
telling the shared slave source which FMI version it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import fmutwin
from fmutwin.fmi.python_slave import VERSION_ENV, VERSION_FILE
from fmutwin.twins.registry import TWINS, twin_entry

GUARD_FILE = "_fmutwin_guard.py"  # imported first by every slave source
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


def fmu_file_name(twin: str, version: int) -> str:
    """``CellECM_fmi2.fmu`` style names: model identifier plus FMI version."""
    return f"{twin_entry(twin).model_name}_fmi{version}.fmu"


def build_python_fmu(twin: str, version: int, out_dir: Path) -> Path:
    """Build one Python FMU of ``twin`` for FMI ``version`` (2 or 3) into ``out_dir``."""
    if version not in (2, 3):
        raise ValueError(f"FMI version {version}: only 2 and 3 are supported")
    entry = twin_entry(twin)
    script = fmu_sources_dir() / f"{twin}.py"
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
        extras = []
        for name, source in (entry.resource_files() if entry.resource_files else {}).items():
            extras.append(stage / name)
            shutil.copyfile(source, extras[-1])
        previous = os.environ.get(VERSION_ENV)
        os.environ[VERSION_ENV] = str(version)
        try:
            if version == 2:
                from pythonfmu import FmuBuilder

                from fmutwin.fmi.fmi2 import OPTIONS
                built = FmuBuilder.build_FMU(script, dest=stage / "out", project_files=[package, marker, guard, *extras], **OPTIONS)
            else:
                from pythonfmu3 import FmuBuilder as Fmu3Builder

                from fmutwin.fmi.fmi3 import OPTIONS
                built = Fmu3Builder.build_FMU(script, dest=stage / "out", project_files=[package, marker, guard, *extras],
                                              **OPTIONS)
        finally:
            if previous is None:
                os.environ.pop(VERSION_ENV, None)
            else:
                os.environ[VERSION_ENV] = previous
        target = out_dir / fmu_file_name(twin, version)
        shutil.move(str(built), target)
    assert entry.model_name in target.name
    return target


def build_all(out_dir: Path, twins: list[str] | None = None, versions: tuple[int, ...] = (2, 3)) -> list[Path]:
    """Every registered twin (or the named ones) for every FMI version."""
    return [build_python_fmu(t, v, out_dir) for t in (twins or sorted(TWINS)) for v in versions]
