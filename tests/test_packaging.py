"""The package as a user installs it: a wheel (not an editable checkout) in a fresh virtual
environment builds and checks every FMU from a folder that has nothing to do with the project."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(PROJECT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("fmutwin-*.whl")
    return path


def test_wheel_carries_what_building_fmus_needs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"fmutwin/fmu_sources/cell_ecm.py", "fmutwin/fmu_sources/cell_echem.py",
            "fmutwin/fmu_sources/_fmutwin_guard.py", "fmutwin/fmi/native/shell_core.c",
            "fmutwin/fmu_sources/module.py", "fmutwin/params/data/pybamm_ecm_example.json",
            "fmutwin/params/data/module_example.json", "fmutwin/fmu_sources/pack_thermal.py",
            "fmutwin/params/data/pack_thermal_example.json", "fmutwin/fmu_sources/module_echem.py",
            "fmutwin/params/data/module_echem_example.json", "fmutwin/fmu_sources/bms.py",
            "fmutwin/params/data/bms_example.json", "fmutwin/fmu_sources/power_load.py",
            "fmutwin/params/data/chen2020_dfn_50Ah.json", "fmutwin/params/data/flagship_module_12s4p.json",
            "fmutwin/params/data/flagship_bms_96s4p.json", "fmutwin/cosim/execution.py"} <= names, sorted(names)


@pytest.mark.slow
def test_installed_wheel_builds_and_checks_fmus_from_an_unrelated_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies come from this environment's site-packages (appended to sys.path, after the
    # wheel's own install, so fmutwin is the wheel's: this environment's editable-install hook is a
    # .pth file there, which a plain path entry does not run)
    (site / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FMUTWIN_", "PYTHON"))}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import fmutwin; print(fmutwin.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(site) in where and str(PROJECT) not in where, where
    # every twin's Python FMUs, and the native FMUs of both native paths (equations over ops: the
    # cell ECM; a PyBaMM model's generated step: the electrochemical cell); each other twin's
    # native build is tested in its own test file (together they took 2 of this test's 4 minutes)
    from fmutwin.registry import TWINS

    natives = ("cell_ecm", "cell_echem")
    others = [arg for name in sorted(TWINS) if name not in natives for arg in ("--twin", name)]
    for args in ([arg for name in natives for arg in ("--twin", name)], [*others, "--no-native"]):
        build = subprocess.run([str(venv / "bin" / "fmutwin"), "build", "--out", "fmus", *args], cwd=work, env=env,
                               capture_output=True, text=True, timeout=600)
        assert build.returncode == 0, build.stdout + build.stderr
    fmus = sorted((work / "fmus").glob("*.fmu"))
    models = ("CellECM", "CellEchem", "CellEchemNative", "CellECMNative", "Module", "PackThermal", "ModuleEchem",
              "Bms", "PowerLoad")
    assert {p.name for p in fmus} == {f"{m}_fmi{v}.fmu" for m in models for v in (2, 3)}
    check = subprocess.run([str(venv / "bin" / "fmutwin"), "check", *map(str, fmus)], cwd=work, env=env,
                           capture_output=True, text=True, timeout=600)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(fmus), check.stdout + check.stderr
