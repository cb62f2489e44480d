"""The electrochemical (PyBaMM) cell twin as FMI 2.0 and 3.0 Python FMUs."""

from __future__ import annotations

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.registry import twin
from fmutwin.fmi.check import check_fmu
from fmutwin.twins.cell_echem import CellEchemTwin

VERSIONS = [2, 3]


@pytest.fixture(scope="module")
def echem_fmu(tmp_path_factory):
    out = tmp_path_factory.mktemp("echem")
    return {v: build_python_fmu(twin("cell_echem"), v, out) for v in VERSIONS}


@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_is_conformant(echem_fmu, version):
    assert check_fmu(echem_fmu[version]) == []


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_over_us06_equals_the_twin(open_fmu, echem_fmu, version):
    time_s, current = drive_cycle("US06", scale=1.0)  # Chen2020: 5 Ah cell, peak 8.1 A
    n = 120
    host = open_fmu(echem_fmu[version])
    host.initialize(initialSoc=0.7)
    got = []
    for k in range(n):
        host.set(current=current[k])
        host.step(1.0)
        got.append(host.get("batteryVoltage", "stateOfCharge", "negativeElectrodePotentialVsLi"))
    ref = CellEchemTwin(initial_soc=0.7).run(time_s[: n + 1], current[:n])
    got = np.array(got)
    np.testing.assert_allclose(got[:, 0], ref["voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], ref["soc"], rtol=1e-9)
    np.testing.assert_allclose(got[:, 2], ref["negative_electrode_potential_vs_li_V"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_reports_the_cut_off_as_an_error(open_fmu, echem_fmu, version):
    host = open_fmu(echem_fmu[version])
    host.initialize(initialSoc=0.05, model="SPM")
    host.set(current=20.0)
    with pytest.raises(FMICallException):
        for _ in range(200):
            host.step(10.0)
    assert any("cut-off" in e for e in host.errors()), host.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_bad_names_and_nan(open_fmu, echem_fmu, version):
    host = open_fmu(echem_fmu[version])
    with pytest.raises(FMICallException):
        host.initialize(parameterSet="Chen2021")
    assert any("Chen2020" in e and "valid parameter sets" in e for e in host.errors()), host.logs
    ok = open_fmu(echem_fmu[version], instance="ok")
    ok.initialize(model="SPM")
    ok.set(current=float("nan"))
    with pytest.raises(FMICallException):
        ok.step(1.0)
    assert any("input current = nan is not finite" in e for e in ok.errors()), ok.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_state_restore(open_fmu, echem_fmu, version):
    host = open_fmu(echem_fmu[version])
    host.initialize(model="SPM", initialSoc=0.8)

    def run(n):
        out = []
        for k in range(n):
            host.set(current=5.0 if k % 7 else -3.0)
            host.step(1.0)
            out.append(host.get("batteryVoltage", "stateOfCharge"))
        return out

    run(20)
    state = host.fmu.getFMUState()
    blob = host.fmu.serializeFMUState(state)
    t = host.time
    first = run(20)
    host.fmu.setFMUState(host.fmu.deserializeFMUState(blob))
    host.time = t
    second = run(20)
    np.testing.assert_allclose(second, first, rtol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_echem_fmu_takes_every_start_value_and_inputs_set_during_initialisation(open_fmu, echem_fmu, version):
    """An importer that writes every start value (read from the modelDescription) runs the same
    model; a current set during initialisation is in the outputs at once (voltage below the
    rest voltage, batteryCurrent the current)."""
    from test_importer_contract import declared_starts

    starts = declared_starts(echem_fmu[version])
    assert set(starts) == {"model", "parameterSet", "bpxFile", "thermalModel", "initialSoc", "initialTemperature",
                           "pythonExecutable"}  # the last: the out-of-process runner's own
    runs = []
    for i, (values, current) in enumerate((({}, 0.0), (starts, 0.0), ({}, 5.0))):
        host = open_fmu(echem_fmu[version], instance=f"e{i}")
        host.initialize(**values, current=current)
        first = host.get("batteryCurrent", "batteryVoltage")
        host.set(current=2.0)
        host.step(5.0)
        runs.append((first, host.get("batteryVoltage", "stateOfCharge")))
    assert runs[1] == runs[0]
    (i_rest, v_rest), (i_load, v_load) = runs[0][0], runs[2][0]
    assert i_rest == 0.0 and i_load == 5.0 and v_rest - 0.2 < v_load < v_rest - 0.005
