"""Out-of-process Python FMUs (fmutwin.fmi.process): the host loads a small native proxy, and
each FMU instance's slave runs in its own Python worker process.

What is asserted, against independent references (the numpy / PyBaMM twins called directly, and
the in-process FMU, which runs the same slave inside the host):

* the C test host (tests/fmi/c_host) runs the ECM and the electrochemical FMUs with an empty
  environment (``env -i PATH=/usr/bin:/bin``: no libpython preloaded, no PYTHONHOME, no
  PYTHONPATH; /usr/bin/python3 has no numpy), returns normally from main (no exit-time abort),
  and its outputs equal the twin's and the in-process FMU's bit for bit over US06;
* a C host linked against the system's SUNDIALS (Debian's libsundials-dev) runs the
  electrochemical FMU (the in-process FMU crashes there: see docs/fmi.md), and so do libcosim and
  ecos (the ECM FMU in both is in test_third_party_importers.py);
* FMU state restore is bit-identical; 8 instances in one host are 8 workers with independent
  results; a killed or hung worker gives an error status with a log line; the worker exits when
  its instance is freed and when its host is killed; the interpreter is chosen as documented
  and a missing package is named with the interpreter that lacks it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import venv
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from _fmpy_host import FmpyHost
from fmi_reference import twin_reference
from test_c_host import clean_environment, host_arguments, unzip_fmu, write_profile

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.host_env import host_environment
from fmutwin.registry import twin
from fmutwin.twins.cell_echem import CellEchemTwin

EMPTY_ENVIRONMENT = {"PATH": "/usr/bin:/bin"}
HOST_DIR = Path(__file__).parent / "c_host"
NAMES = ("batteryVoltage", "stateOfCharge")


@pytest.fixture(scope="module")
def echem_fmus(tmp_path_factory) -> dict[tuple[str, int], Path]:
    """The electrochemical FMUs, out of process and in process, FMI 2.0 and 3.0."""
    out = tmp_path_factory.mktemp("echem_process")
    return {(runner, v): build_python_fmu(twin("cell_echem"), v, out / runner, runner=runner)
            for runner in ("process", "in-process") for v in (2, 3)}


@pytest.fixture(scope="module")
def sundials_host(tmp_path_factory) -> Path:
    """The C test host linked against the system's SUNDIALS (c_host/sundials_link.c)."""
    exe = tmp_path_factory.mktemp("c_host_sundials") / "fmu_host_sundials"
    build = subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-o", str(exe), str(HOST_DIR / "fmu_host.c"),
                            str(HOST_DIR / "sundials_link.c"), "-ldl", "-Wl,--no-as-needed", "-lsundials_cvode",
                            "-lsundials_nvecserial"], capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"gcc failed (Debian: apt-get install libsundials-dev):\n{build.stderr}"
    return exe


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """An interpreter without numpy, pydantic or fmutwin (a venv without packages)."""
    folder = tmp_path_factory.mktemp("bare_venv")
    venv.create(folder, with_pip=False)
    return folder / "bin" / "python"


def _references(fmu_dir: Path) -> dict[str, str]:
    root = ET.parse(fmu_dir / "modelDescription.xml").getroot()
    rows = root.iter("ScalarVariable") if root.get("fmiVersion", "").startswith("2") else root.find("ModelVariables")
    return {v.get("name"): v.get("valueReference") for v in rows}


def _run_c_host(exe: Path, fmu: Path, tmp_path: Path, time_s: np.ndarray, current_A: np.ndarray,
                env: dict[str, str], parameters: dict[str, float | str] | None = None) -> np.ndarray:
    """The C host over the profile; its CSV rows (time, voltage, soc)."""
    fmu_dir = unzip_fmu(fmu, tmp_path / f"{fmu.stem}_{len(list(tmp_path.iterdir()))}")
    refs = _references(fmu_dir)
    extra = [f"{'s' if isinstance(v, str) else 'r'}:{refs[k]}={v}" for k, v in (parameters or {}).items()]
    profile = write_profile(tmp_path / "profile.csv", time_s, current_A)
    out = tmp_path / "out.csv"
    result = subprocess.run([str(exe), str(fmu_dir), *host_arguments(fmu_dir), str(profile), str(out), *extra],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"C host exit {result.returncode}:\n{result.stderr[-3000:]}"
    return np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)


def _worker_pids() -> set[int]:
    """The Python workers started by this process (children running the proxy's bootstrap)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"fmutwin.fmi.process.worker" in cmdline:
                pids.add(int(entry.name))
    return pids


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":  # a zombie: exited
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ non-Python hosts


@pytest.mark.parametrize("version", [2, 3])
def test_ecm_fmu_runs_in_a_c_host_with_an_empty_environment(version, fmu_host, process_cell_fmu, cell_fmu,
                                                            us06_profile, tmp_path):
    time_s, current_A = us06_profile
    env = EMPTY_ENVIRONMENT | {"FMU_HOST_NORMAL_EXIT": "1"}  # return from main: the exit must be clean too
    got = _run_c_host(fmu_host, process_cell_fmu(version), tmp_path, time_s, current_A, env)
    ref = twin_reference(time_s, current_A)
    np.testing.assert_allclose(got[:, 1], ref["voltage_V"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(got[:, 2], ref["soc"], rtol=1e-9, atol=0)
    in_process = _run_c_host(fmu_host, cell_fmu(version), tmp_path, time_s, current_A,
                             clean_environment() | host_environment(cell_fmu(version)))
    np.testing.assert_array_equal(got, in_process)


def test_ecm_fmu_runs_in_a_host_linked_against_the_system_sundials(sundials_host, process_cell_fmu, us06_profile,
                                                                   tmp_path):
    time_s, current_A = us06_profile
    got = _run_c_host(sundials_host, process_cell_fmu(3), tmp_path, time_s, current_A,
                      EMPTY_ENVIRONMENT | {"FMU_HOST_NORMAL_EXIT": "1"})
    ref = twin_reference(time_s, current_A)
    np.testing.assert_allclose(got[:, 1], ref["voltage_V"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(got[:, 2], ref["soc"], rtol=1e-9, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("model, version", [("SPMe", 2), ("DFN", 3)])
def test_echem_fmu_runs_in_a_c_host_with_an_empty_environment(model, version, fmu_host, echem_fmus, tmp_path):
    time_s, current_A = drive_cycle("US06", scale=1.0)  # Chen2020: 5 Ah, peak 8.1 A
    parameters = {"model": model, "initialSoc": 0.7}
    got = _run_c_host(fmu_host, echem_fmus["process", version], tmp_path, time_s, current_A,
                      EMPTY_ENVIRONMENT | {"FMU_HOST_NORMAL_EXIT": "1"}, parameters)
    ref = CellEchemTwin(model, initial_soc=0.7).run(time_s, current_A[:-1])
    np.testing.assert_array_equal(got[:, 1], ref["voltage_V"])
    np.testing.assert_array_equal(got[:, 2], ref["soc"])
    fmu = echem_fmus["in-process", version]
    in_process = _run_c_host(fmu_host, fmu, tmp_path, time_s, current_A,
                             clean_environment() | host_environment(fmu), parameters)
    np.testing.assert_array_equal(got, in_process)


@pytest.mark.slow
@pytest.mark.parametrize("model, version", [("DFN", 2), ("SPMe", 3)])
def test_echem_fmu_runs_in_a_host_linked_against_the_system_sundials(model, version, sundials_host, echem_fmus,
                                                                     tmp_path):
    time_s, current_A = drive_cycle("US06", scale=1.0)
    got = _run_c_host(sundials_host, echem_fmus["process", version], tmp_path, time_s, current_A,
                      EMPTY_ENVIRONMENT | {"FMU_HOST_NORMAL_EXIT": "1"}, {"model": model, "initialSoc": 0.7})
    ref = CellEchemTwin(model, initial_soc=0.7).run(time_s, current_A[:-1])
    np.testing.assert_array_equal(got[:, 1], ref["voltage_V"])
    np.testing.assert_array_equal(got[:, 2], ref["soc"])


@pytest.mark.slow
@pytest.mark.parametrize("importer", ["libcosim", "ecos-fmi2", "ecos-fmi3"])
def test_echem_fmu_runs_in_libcosim_and_ecos(importer, echem_fmus, tmp_path):
    """The out-of-process SPMe FMU (default start values: SOC 0.9) in two C++ masters, US06 until
    just before its regen reaches the upper cut-off, equal to the twin bit for bit."""
    from test_third_party_importers import _run_ecos, _run_libcosim

    time_s, current = drive_cycle("US06", scale=1.0)
    time_s, current = time_s[:101], current[:101]
    version = 3 if importer.endswith("3") else 2
    fmu = echem_fmus["process", version]
    got = _run_libcosim("local_slave", fmu, tmp_path, current) if importer == "libcosim" else _run_ecos(fmu, current)
    ref = CellEchemTwin("SPMe", initial_soc=0.9).run(time_s, current[:-1])
    np.testing.assert_array_equal(got["batteryCurrent"], current[:-1])
    np.testing.assert_array_equal(got["batteryVoltage"], ref["voltage_V"])
    np.testing.assert_array_equal(got["stateOfCharge"], ref["soc"])


# ------------------------------------------------------------------ the FMI surface, through fmpy


@pytest.mark.parametrize("version", [2, 3])
def test_state_restore_is_bit_identical(version, open_fmu, process_cell_fmu, us06_profile):
    current = us06_profile[1]
    host = open_fmu(process_cell_fmu(version))
    host.initialize()
    first, restored, deserialised = host.runs_after_restore(current, 40, 120, NAMES)
    assert first == restored == deserialised
    ref = twin_reference(us06_profile[0][:121], current[:120])
    np.testing.assert_allclose(np.array(first)[:, 0], ref["voltage_V"][40:], rtol=1e-9)


@pytest.mark.parametrize("version", [2, 3])
def test_outputs_read_without_a_step_are_those_of_the_in_process_fmu(version, open_fmu, process_cell_fmu, cell_fmu,
                                                                     us06_profile):
    """Reads that no step's answer carries: at the initial state (in initialisation mode and after
    it) and right after an FMU state is restored (the state's outputs, not the last step's)."""
    current = us06_profile[1]
    seen = []
    for fmu in (process_cell_fmu(version), cell_fmu(version)):
        host = open_fmu(fmu)
        if version == 2:
            host.fmu.setupExperiment(startTime=0.0)
            host.fmu.enterInitializationMode()
        else:
            host.fmu.enterInitializationMode(startTime=0.0)
        host.set(current=20.0)
        reads = [host.get(*NAMES)]
        host.fmu.exitInitializationMode()
        reads.append(host.get(*NAMES))
        host.run_current(current, 0, 10, NAMES)
        state = host.fmu.getFMUState()
        reads.append(host.get(*NAMES))
        host.run_current(current, 10, 15, NAMES)
        host.fmu.setFMUState(state)
        reads.append(host.get(*NAMES))
        seen.append(reads)
    assert seen[0] == seen[1]
    assert seen[0][3] == seen[0][2] != seen[0][1]


@pytest.mark.slow
def test_echem_state_restore_is_bit_identical(open_fmu, echem_fmus):
    time_s, current = drive_cycle("US06", scale=1.0)
    host = open_fmu(echem_fmus["process", 3])
    host.initialize(initialSoc=0.7)
    first, restored, deserialised = host.runs_after_restore(current, 30, 90, NAMES)
    assert first == restored == deserialised


@pytest.mark.parametrize("spin_s, worker_spin_s", [("0", "0"), ("0.01", "0.01"), ("abc", "")])
def test_the_proxy_sleeping_or_polling_for_answers_gives_the_same_run(spin_s, worker_spin_s, open_fmu, process_cell_fmu,
                                                                      us06_profile, monkeypatch):
    """FMUTWIN_PROXY_SPIN_S / FMUTWIN_WORKER_SPIN_S=0: the proxy and the worker always sleep for the
    other's next message; 0.01: they poll up to 10 ms (longer than any step here) without sleeping;
    values that are not numbers are the defaults."""
    monkeypatch.setenv("FMUTWIN_PROXY_SPIN_S", spin_s)
    monkeypatch.setenv("FMUTWIN_WORKER_SPIN_S", worker_spin_s)
    time_s, current = us06_profile[0][:121], us06_profile[1][:120]
    host = open_fmu(process_cell_fmu(2))
    host.initialize()
    run = host.run_current(current, 0, len(current), NAMES)
    ref = twin_reference(time_s, current)
    np.testing.assert_allclose(np.array(run)[:, 0], ref["voltage_V"], rtol=1e-9, atol=0)
    assert host.errors() == []


@pytest.mark.parametrize("version", [2, 3])
def test_settings_queued_without_a_wait_arrive_in_order(version, open_fmu, process_cell_fmu):
    """Settings are sent with the next call that waits: more of them than the proxy lets wait
    (64), in order, so the last one is the one stepped with; a read after a setting sees it
    (not the outputs the last step's answer carried)."""
    host = open_fmu(process_cell_fmu(version))
    host.initialize()
    host.get("current", "batteryVoltage")  # read once: a step's answer carries them from now on
    for k in range(150):
        host.set(current=float(k % 17))
    host.set(current=30.0)
    host.step(1.0)
    assert host.get("current") == [30.0]
    host.set(current=-12.5)
    assert host.get("current") == [-12.5]
    ref = twin_reference(np.array([0.0, 1.0]), np.array([30.0]))
    assert host.get("batteryVoltage") == pytest.approx(list(ref["voltage_V"]), rel=1e-12)
    assert host.errors() == []


def test_eight_instances_are_eight_independent_workers(open_fmu, process_cell_fmu, us06_profile):
    time_s, current = us06_profile[0][:101], us06_profile[1][:100]
    before = _worker_pids()
    hosts = [open_fmu(process_cell_fmu(2), instance=f"cell{k}") for k in range(8)]
    for host in hosts:
        host.initialize()
    assert len(_worker_pids() - before) == 8
    runs = [[] for _ in hosts]
    for k in range(len(current)):  # interleaved: a shared state would mix the instances' currents
        for j, host in enumerate(hosts):
            host.set(current=current[k] * (j + 1) / 8)
            host.step(1.0)
            runs[j].append(host.get("batteryVoltage")[0])
    for j, run in enumerate(runs):
        ref = twin_reference(time_s, current * (j + 1) / 8)
        np.testing.assert_allclose(run, ref["voltage_V"], rtol=1e-9, atol=0)


def test_fmi3_arrays_and_logs_pass_through(open_fmu, tmp_path):
    """An FMU with array variables (the module: cell voltages per element) and warnings."""
    fmu = build_python_fmu(twin("module"), 3, tmp_path / "process")
    reference = build_python_fmu(twin("module"), 3, tmp_path / "in-process", runner="in-process")
    outputs = []
    for path in (fmu, reference):
        host = open_fmu(path)
        host.initialize()
        arrays = [name for name, v in host.vars.items() if v.causality == "output" and v.dimensions]
        rows = []
        for current in (40.0, -20.0, 0.0):
            host.set(current=current)
            host.step(10.0)
            rows.append(host.get(*arrays))
            rows.append(host.get(arrays[-1]))  # one array alone: its elements, not one value
        outputs.append((rows, host.logs))
        assert len(rows[0]) > len(arrays)  # arrays came back element by element
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("version", [2, 3])
def test_booleans_and_integers_travel_as_set(version, open_fmu, process_cell_fmu):
    host = open_fmu(process_cell_fmu(version))
    vr = [host.vars["socLimitIsError"].valueReference]
    for value in (True, False, True):
        host.fmu.setBoolean(vr, [value])
        assert list(host.fmu.getBoolean(vr)) == [value]
    integers = [v for v in host.vars.values() if v.type in ("Integer", "Int32") and v.causality == "parameter"]
    for var in integers:
        get, put = ((host.fmu.getInteger, host.fmu.setInteger) if version == 2 else
                    (host.fmu.getInt32, host.fmu.setInt32))
        put([var.valueReference], [int(var.start)])
        assert list(get([var.valueReference])) == [int(var.start)]


@pytest.mark.parametrize("version", [2, 3])
def test_errors_and_their_log_lines_are_those_of_the_in_process_fmu(version, open_fmu, process_cell_fmu, cell_fmu):
    seen = []
    for fmu in (process_cell_fmu(version), cell_fmu(version)):
        host = open_fmu(fmu)
        host.initialize()
        host.set(current=float("nan"))
        with pytest.raises(FMICallException) as failure:
            host.step(1.0)
        seen.append((failure.value.status, host.errors()))
    assert seen[0] == seen[1] and "current" in seen[0][1][0]


# ------------------------------------------------------------------ failures of the worker


def test_a_killed_worker_gives_an_error_status(open_fmu, process_cell_fmu):
    before = _worker_pids()
    host = open_fmu(process_cell_fmu(2))
    host.initialize()
    host.set(current=10.0)
    host.step(1.0)
    (pid,) = _worker_pids() - before
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert any("killed by signal 9" in e for e in host.errors()), host.logs
    with pytest.raises(FMICallException):  # and it stays failed, without a hang
        host.get("batteryVoltage")


@pytest.mark.parametrize("proxy_spin_s", [None, "inf", "1e9"])
def test_a_hung_worker_times_out(proxy_spin_s, open_fmu, process_cell_fmu, monkeypatch):
    """Also when the proxy is told to poll for ever (FMUTWIN_PROXY_SPIN_S=inf or 1e9): it polls at most
    0.1 s, and never past the timeout."""
    monkeypatch.setenv("FMUTWIN_WORKER_TIMEOUT_S", "1")
    if proxy_spin_s:
        monkeypatch.setenv("FMUTWIN_PROXY_SPIN_S", proxy_spin_s)
    before = _worker_pids()
    host = open_fmu(process_cell_fmu(3))
    host.initialize()
    (pid,) = _worker_pids() - before
    os.kill(pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(FMICallException):
            host.step(1.0)
        assert time.monotonic() - start < 5.0
        assert any("no answer within 1 s" in e for e in host.errors()), host.logs
    finally:
        host.close()
    assert _gone(pid, 5.0)


def test_a_freed_instance_leaves_no_worker(process_cell_fmu):
    before = _worker_pids()
    host = FmpyHost(process_cell_fmu(2))
    host.initialize()
    (pid,) = _worker_pids() - before
    host.close()
    assert _gone(pid, 5.0)
    with pytest.raises(ProcessLookupError):  # reaped, not a zombie
        os.kill(pid, 0)


def test_the_worker_exits_when_its_host_is_killed(process_cell_fmu):
    script = textwrap.dedent("""
        import os, sys, time
        sys.path.insert(0, sys.argv[2])
        from _fmpy_host import FmpyHost
        host = FmpyHost(sys.argv[1])
        host.initialize()
        host.step(1.0)
        children = [p for p in os.listdir("/proc") if p.isdigit() and
                    open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
        print(" ".join(children), flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(process_cell_fmu(2)), str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert pids, "the host found no worker"
        proc.kill()
        proc.wait(10)
        assert all(_gone(pid, 10.0) for pid in pids)
    finally:
        proc.kill()


# ------------------------------------------------------------------ which Python runs the worker


def test_a_missing_interpreter_is_a_clear_error(open_fmu, process_cell_fmu):
    host = open_fmu(process_cell_fmu(2))
    host.fmu.setupExperiment(startTime=0.0)
    host.set(pythonExecutable="/nowhere/python3")
    host.fmu.enterInitializationMode()  # kept for the worker's start
    with pytest.raises(FMICallException):
        host.fmu.exitInitializationMode()
    assert host.errors() == ["pythonExecutable = '/nowhere/python3' is not an executable file"]


@pytest.mark.parametrize("how", ["parameter", "environment", "path"])
def test_an_interpreter_without_numpy_is_named_with_the_package(how, open_fmu, process_cell_fmu, bare_python,
                                                                monkeypatch, tmp_path):
    fmu = process_cell_fmu(3)
    unzip_dir = None
    if how == "environment":
        monkeypatch.setenv("FMUTWIN_PYTHON", str(bare_python))
    elif how == "path":  # the recorded interpreter is not on this machine: python3 on PATH
        unzip_dir = unzip_fmu(fmu, tmp_path / "fmu")
        (unzip_dir / "resources" / "fmutwin_python.txt").write_text("/gone/bin/python3\n")
        (tmp_path / "bin").mkdir()
        launcher = tmp_path / "bin" / "python3"  # a script: a symlink would leave the venv's folder
        launcher.write_text(f'#!/bin/sh\nexec {bare_python} "$@"\n')
        launcher.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    host = open_fmu(fmu, unzip_dir=str(unzip_dir) if unzip_dir else None)
    host.fmu.enterInitializationMode()
    if how == "parameter":  # in initialisation mode, as libcosim sets parameters
        host.set(pythonExecutable=str(bare_python))
    with pytest.raises(FMICallException):
        host.fmu.exitInitializationMode()
    text = " ".join(host.errors())
    assert "lacks the package 'numpy'" in text or "lacks the package 'pydantic'" in text, host.logs
    assert str(bare_python.parent) in text or str(tmp_path / "bin") in text, host.logs
    if how == "path":
        assert any("/gone/bin/python3" in w and "is not on this machine" in w for w in host.warnings()), host.logs


def test_the_worker_does_not_take_the_hosts_python_settings(open_fmu, process_cell_fmu, monkeypatch, tmp_path):
    """A host's PYTHONPATH (here: a folder whose numpy is broken) does not reach the worker."""
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text("raise ImportError('the host's numpy')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    host = open_fmu(process_cell_fmu(3))
    host.initialize()
    host.set(current=5.0)
    host.step(1.0)
    assert host.errors() == []


def test_settings_before_the_worker_starts_are_kept(open_fmu, process_cell_fmu, us06_profile):
    """The setup, parameters, the entry into initialisation and inputs set in it (the worker starts
    at the first call that needs its answer) reach the slave in order; the interpreter parameter,
    set in initialisation mode, reads back as set."""
    host = open_fmu(process_cell_fmu(2))
    host.fmu.setupExperiment(startTime=0.0)
    host.set(initialSoc=0.5)
    host.fmu.enterInitializationMode()
    host.set(pythonExecutable=sys.executable, current=12.0)
    assert host.fmu.getString([host.vars["pythonExecutable"].valueReference]) == [sys.executable.encode()]
    host.fmu.exitInitializationMode()
    host.step(1.0)
    time_s = np.array([0.0, 1.0])
    from fmutwin.params import default_cell_parameters
    from fmutwin.twins import CellECMTwin

    params = default_cell_parameters().with_changes(initial={"soc": 0.5})
    ref = CellECMTwin(params).run(time_s, np.array([12.0]), ambient_temperature_K=298.15)
    assert host.get("batteryVoltage") == pytest.approx(list(ref["voltage_V"]), rel=1e-12)
    with pytest.raises(FMICallException):  # the worker runs: too late to choose another interpreter
        host.set(pythonExecutable="/usr/bin/python3")
