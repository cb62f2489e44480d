"""The module of electrochemical cells as FMI 2.0 and 3.0 Python FMUs and as a native FMU (the
PyBaMM cells generated as C): conformant, equal to the twin over a drive cycle, state restore,
a bad input refused with a log line naming it, a cell run empty refused naming the limit."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from fmutwin.params.defaults import default_module_echem_parameters
from fmutwin.registry import twin
from fmutwin.twins.module_echem import ModuleEchemTwin

VERSIONS = [2, 3]
STEPS = 60


@pytest.fixture(scope="module")
def fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("module_echem")
    return {v: build_python_fmu(twin("module_echem"), v, out) for v in VERSIONS}


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """The native ModuleEchem FMU, FMI 3.0 (its FMI 2.0 build differs only in the shell, which
    every native twin shares and tests/fmi/test_native*.py cover)."""
    return build_native(twin("module_echem"), tmp_path_factory.mktemp("module_echem_native"), 3)


@pytest.fixture(scope="module")
def cycle():
    time_s, current = drive_cycle("US06", scale=1.0)
    return time_s[:STEPS + 1], current[:STEPS] / np.max(np.abs(current[:STEPS])) * 16.0  # 2 cells: peaks 1.6C


def _run_against_the_twin(host, cycle, names):
    """The FMU over the cycle with a cold-plate conductance of 1.5 W/K (its second half run three
    times: straight on, from a saved and from a deserialised FMU state, which must agree), and
    the twin over the same cycle: (FMU outputs by step, twin outputs)."""
    time_s, current = cycle
    host.initialize(coldPlateConductance=1.5)
    got = host.run_current(current, 0, STEPS // 2, names)
    first, *again = host.reruns_from_saved_state(current, STEPS // 2, STEPS, names)
    assert again == [first, first]
    params = default_module_echem_parameters()
    params = params.model_copy(update={"thermal": params.thermal.model_copy(
        update={"cold_plate_conductance_W_per_K": 1.5})})
    return np.array(got + first), ModuleEchemTwin(params).run(time_s, current)


@pytest.mark.parametrize("version", VERSIONS)
def test_module_echem_fmu_is_conformant(fmus, version):
    assert check_fmu(fmus[version]) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_module_echem_fmu_equals_the_twin_and_restores_its_state(open_fmu, fmus, cycle, version):
    got, ref = _run_against_the_twin(open_fmu(fmus[version], instance=f"echem{version}"), cycle,
                                     ("moduleVoltage", "minCellSoc", "maxCellTemperature"))
    np.testing.assert_array_equal(got[:, 0], ref["module_voltage_V"])
    np.testing.assert_array_equal(got[:, 1], ref["min_cell_soc"])
    np.testing.assert_array_equal(got[:, 2], ref["max_cell_temperature_K"])


@pytest.mark.parametrize("version", VERSIONS)
def test_module_echem_fmu_refuses_nan_naming_the_input(open_fmu, fmus, version):
    host = open_fmu(fmus[version], instance=f"bad{version}")
    host.initialize()
    host.set(current=float("nan"))
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert any("input current = nan is not finite" in e for e in host.errors()), host.errors()


def test_native_module_echem_needs_no_python_and_equals_the_twin(open_fmu, native, cycle, tmp_path):
    assert check_fmu(native) == []
    unzipped = tmp_path / "fmu"
    import fmpy

    fmpy.extract(str(native), str(unzipped))
    needed = subprocess.run(["ldd", str(unzipped / "binaries/x86_64-linux/ModuleEchemNative.so")],
                            capture_output=True, text=True).stdout
    assert "python" not in needed and "casadi" not in needed and "sundials" not in needed, needed
    got, ref = _run_against_the_twin(open_fmu(native, instance="native"), cycle,
                                     ("moduleVoltage", "minCellSoc", "maxCellTemperature", "splitEvaluations"))
    # the same equations and cell step, compiled by CasADi's JIT (twin) and in the FMU: measured 1e-14 V
    np.testing.assert_allclose(got[:, 0], ref["module_voltage_V"], rtol=0, atol=1e-11)
    np.testing.assert_allclose(got[:, 1], ref["min_cell_soc"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 2], ref["max_cell_temperature_K"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(got[:, 3], ref["split_evaluations"])


def test_native_module_echem_refuses_a_cell_run_empty(open_fmu, native):
    """From SOC 0.02 at 3C per cell: a surface stoichiometry leaves [0, 1], the step is discarded
    and the log names the limit and when it was reached, as the twin raises."""
    host = open_fmu(native, instance="empty")
    n = len(default_module_echem_parameters().realise().realised["initial_soc"])
    host.initialize(initialSoc=[0.02] * n)
    host.set(current=30.0)
    with pytest.raises(FMICallException, match="status 2"):
        for _ in range(600):
            host.step(1.0)
    message = host.logs[-1][1]
    assert "SurfaceStoichiometry" in message and "reached at t = " in message, host.logs
    twin_ = ModuleEchemTwin(default_module_echem_parameters().model_copy(
        update={"realised": {**default_module_echem_parameters().realise().realised, "initial_soc": [0.02] * n}}))
    with pytest.raises(Exception, match="stoichiometry"):
        for _ in range(600):
            twin_.step(30.0, 1.0)
    assert twin_.time_s == host.time  # both refuse the same step (the host did not advance past it)
