"""The cell FMUs in a host that is not Python: a small C program (c_host/fmu_host.c).

The host is compiled with gcc, dlopens the unzipped FMU's binary and drives the FMI 2.0 / 3.0
C API over US06 (600 steps of 1 s), one ``current`` value per step with ambientTemperature at
298.15 K. It runs in a fresh process whose environment is this one minus every ``PYTHON*``
variable plus :func:`fmutwin.fmi.host_env.host_environment` (LD_PRELOAD of libpython,
PYTHONHOME, PYTHONPATH). batteryVoltage and stateOfCharge must equal the numpy twin's
(``twin_reference``); without the environment the binary must not load.

Needs gcc (Debian: ``gcc``, which brings libc6-dev) and a Python built with a shared libpython.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmi_reference import twin_reference
from fmutwin.fmi import host_env
from fmutwin.fmi.host_env import format_shell, host_environment

RTOL = 1e-9
HOST_SOURCE = Path(__file__).parent / "c_host" / "fmu_host.c"
AMBIENT_K = 298.15
#: Host argument order: inputs current, ambientTemperature; outputs batteryVoltage, stateOfCharge.
VARIABLES = ("current", "ambientTemperature", "batteryVoltage", "stateOfCharge")
TIMEOUT_S = 300


def unzip_fmu(fmu: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    with zipfile.ZipFile(fmu) as archive:
        archive.extractall(dest)
    return dest


def host_arguments(fmu_dir: Path) -> list[str]:
    """VERSION MODEL_ID TOKEN VR... as the host takes them, read from modelDescription.xml."""
    root = ET.parse(fmu_dir / "modelDescription.xml").getroot()
    version = root.get("fmiVersion", "")
    if version.startswith("2."):
        token = root.get("guid")
        refs = {v.get("name"): v.get("valueReference") for v in root.iterfind("ModelVariables/ScalarVariable")}
    else:
        token = root.get("instantiationToken")
        refs = {v.get("name"): v.get("valueReference") for v in root.find("ModelVariables")}
    model_id = root.find("CoSimulation").get("modelIdentifier")
    return [version[0], model_id, token] + [refs[name] for name in VARIABLES]


def write_profile(path: Path, time_s: np.ndarray, current_A: np.ndarray) -> Path:
    with path.open("w") as f:
        f.write("time,current\n")
        f.writelines(f"{t!r},{i!r}\n" for t, i in zip(time_s.tolist(), current_A.tolist()))
    return path


def clean_environment() -> dict[str, str]:
    """This process's environment without PYTHON* variables and without LD_PRELOAD."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "LD_PRELOAD"}


def run_host(exe: Path, fmu_dir: Path, profile: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [str(exe), str(fmu_dir), *host_arguments(fmu_dir), str(profile), str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.mark.parametrize("version", [2, 3])
def test_c_host_runs_us06_like_the_twin(version, fmu_host, cell_fmu, us06_profile, tmp_path):
    time_s, current_A = us06_profile
    fmu_dir = unzip_fmu(cell_fmu(version), tmp_path / "fmu")
    profile = write_profile(tmp_path / "us06.csv", time_s, current_A)
    out = tmp_path / "out.csv"
    env = clean_environment() | host_environment(cell_fmu(version))

    result = run_host(fmu_host, fmu_dir, profile, out, env)

    assert result.returncode == 0, f"C host exit {result.returncode}:\n{result.stderr}"
    data = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
    ref = twin_reference(time_s, current_A)
    assert data.shape == (len(time_s) - 1, 3)
    np.testing.assert_array_equal(data[:, 0], time_s[1:])
    np.testing.assert_allclose(data[:, 1], ref["voltage_V"], rtol=RTOL, atol=0, err_msg="batteryVoltage")
    np.testing.assert_allclose(data[:, 2], ref["soc"], rtol=RTOL, atol=0, err_msg="stateOfCharge")


@pytest.mark.parametrize("version", [2, 3])
def test_c_host_without_libpython_cannot_load_the_fmu(version, fmu_host, cell_fmu, us06_profile, tmp_path):
    """The measured fact host_environment exists for: the binary does not link libpython."""
    time_s, current_A = us06_profile
    fmu_dir = unzip_fmu(cell_fmu(version), tmp_path / "fmu")
    profile = write_profile(tmp_path / "short.csv", time_s[:3], current_A[:3])

    result = run_host(fmu_host, fmu_dir, profile, tmp_path / "out.csv", clean_environment())

    assert result.returncode == 2, f"C host exit {result.returncode}:\n{result.stderr}"
    assert "undefined symbol: _Py" in result.stderr, result.stderr


def test_host_environment_points_at_this_interpreter():
    env = host_environment()
    assert list(env) == ["LD_PRELOAD", "PYTHONHOME", "PYTHONPATH"]
    library = Path(env["LD_PRELOAD"])
    assert library.is_absolute() and library.is_file()
    assert library.name.startswith(f"libpython{sys.version_info.major}.{sys.version_info.minor}")
    assert library.read_bytes()[:4] == b"\x7fELF"
    assert env["PYTHONHOME"] == sys.base_prefix
    entries = env["PYTHONPATH"].split(os.pathsep)
    assert all(Path(p).is_dir() for p in entries)
    for module in host_env.REQUIRED_MODULES:
        package = Path(__import__(module).__file__).parent.parent
        assert str(package) in entries, f"{module} is in {package}, not on PYTHONPATH {entries}"


def test_format_shell_round_trips_through_sh():
    env = {"LD_PRELOAD": "/opt/py/lib/libpython3.11.so.1.0", "PYTHONPATH": "/a b/site-packages:/c'd"}
    script = format_shell(env) + '\nprintf "%s\\n" "$LD_PRELOAD" "$PYTHONPATH"'
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True)
    assert result.stdout.splitlines() == list(env.values())
    assert format_shell(env).splitlines()[0] == "export LD_PRELOAD=/opt/py/lib/libpython3.11.so.1.0"


def test_no_shared_libpython_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(host_env, "_loaded_libpython", lambda: None)
    monkeypatch.setattr(host_env, "_libpython_candidates", lambda: (["libpython3.11.so.1.0"], [tmp_path]))
    with pytest.raises(RuntimeError, match="no shared libpython.*enable-shared"):
        host_environment()


def test_a_fmu_that_is_not_python_is_refused(tmp_path):
    fmu = tmp_path / "Other.fmu"
    with zipfile.ZipFile(fmu, "w") as archive:
        archive.writestr("modelDescription.xml", "<fmiModelDescription/>")
    with pytest.raises(ValueError, match="not a Python FMU"):
        host_environment(fmu)


def test_an_out_of_process_fmu_needs_no_host_environment(process_cell_fmu):
    with pytest.raises(ValueError, match="out-of-process FMU; a host needs no environment"):
        host_environment(process_cell_fmu(2))
