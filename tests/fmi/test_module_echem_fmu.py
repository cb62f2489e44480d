"""The module of electrochemical cells as FMI 2.0 and 3.0 Python FMUs: conformant, equal to the
twin over a drive cycle, state restore, and a bad input refused with a log line naming it."""

from __future__ import annotations

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
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
def cycle():
    time_s, current = drive_cycle("US06", scale=1.0)
    return time_s[:STEPS + 1], current[:STEPS] / np.max(np.abs(current[:STEPS])) * 16.0  # 2 cells: peaks 1.6C


@pytest.mark.parametrize("version", VERSIONS)
def test_module_echem_fmu_is_conformant(fmus, version):
    assert check_fmu(fmus[version]) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_module_echem_fmu_equals_the_twin_and_restores_its_state(open_fmu, fmus, cycle, version):
    time_s, current = cycle
    host = open_fmu(fmus[version], instance=f"echem{version}")
    host.initialize(coldPlateConductance=1.5)
    names = ("moduleVoltage", "minCellSoc", "maxCellTemperature")
    got = host.run_current(current, 0, STEPS // 2, names)
    first, *again = host.reruns_from_saved_state(current, STEPS // 2, STEPS, names)
    assert again == [first, first]
    params = default_module_echem_parameters()
    params = params.model_copy(update={"thermal": params.thermal.model_copy(
        update={"cold_plate_conductance_W_per_K": 1.5})})
    ref = ModuleEchemTwin(params).run(time_s, current)
    got = np.array(got + first)
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
