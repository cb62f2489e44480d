"""The BMS as FMI 2.0 and 3.0 Python FMUs: conformant (FMI 3.0 arrays, FMI 2.0 indexed scalars,
Boolean alarms and bleed switches), equal to the BMS twin step for step on a module-twin plant's
measurements, state restore, its provenance chain to the cell file, and a bad input refused with
a log line naming it."""

from __future__ import annotations

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.params.defaults import default_bms_parameters, default_module_parameters
from fmutwin.registry import twin
from fmutwin.twins.bms import BmsTwin
from fmutwin.twins.module import ModuleTwin

VERSIONS = [2, 3]
STEPS = 40
NS = 12


@pytest.fixture(scope="module")
def fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("bms")
    return {v: build_python_fmu(twin("bms"), v, out) for v in VERSIONS}


@pytest.fixture(scope="module")
def measured():
    """The shipped module (the plant the shipped BMS is for) on a +-150 A square wave."""
    plant = ModuleTwin(default_module_parameters())
    current = np.where(np.arange(STEPS) % 10 < 5, 150.0, -60.0)
    rows = [plant.step(float(i), 1.0) for i in current]
    return {"current": current, "voltage": np.array([r["element_voltage_V"] for r in rows]),
            "temperature": np.array([r["cell_temperature_K"].reshape(NS, 4).mean(axis=1) for r in rows]),
            "pack_voltage": np.array([r["module_voltage_V"] for r in rows])}


@pytest.mark.parametrize("version", VERSIONS)
def test_bms_fmu_is_conformant(fmus, version):
    assert check_fmu(fmus[version]) == []


def set_arrays(host, **arrays):
    """Set element arrays: FMI 3.0 as arrays, FMI 2.0 as ``name[i]`` scalars (from 1)."""
    for name, values in arrays.items():
        if host.version == 3:
            host.set(**{name: values})
        else:
            host.set(**{f"{name}[{i + 1}]": v for i, v in enumerate(values)})


def run_fmu(host, m, k0, k1, names):
    out = []
    for k in range(k0, k1):
        set_arrays(host, elementVoltage=m["voltage"][k], elementTemperature=m["temperature"][k])
        host.set(packCurrent=m["current"][k], packVoltage=m["pack_voltage"][k], chargerConnected=k >= 30)
        host.step(1.0)
        out.append(host.get(*names))
    return out


def element(host, name, version):
    """An element array's FMU names: the FMI 3.0 array itself, FMI 2.0 ``name[i]`` (from 1)."""
    return [name] if version == 3 else [f"{name}[{i + 1}]" for i in range(NS)]


@pytest.mark.parametrize("version", VERSIONS)
def test_bms_fmu_equals_the_twin_and_restores_its_state(open_fmu, fmus, measured, version):
    host = open_fmu(fmus[version], instance=f"bms{version}")
    host.initialize(initialSoc=0.45, socFromOcv=False, packVoltageMeasured=True)
    names = (*element(host, "soc", version), "dischargeCurrentLimit", "chargeCurrentRequest", "packSocUsable")
    got = run_fmu(host, measured, 0, STEPS // 2, names)
    state = host.fmu.getFMUState()
    first = run_fmu(host, measured, STEPS // 2, STEPS, names)
    host.fmu.setFMUState(state)
    again = run_fmu(host, measured, STEPS // 2, STEPS, names)
    assert again == first
    params = default_bms_parameters()
    ref_twin = BmsTwin(params.model_copy(update={"estimator": params.estimator.model_copy(update={"initial_soc": 0.45})}))
    ref = [ref_twin.step(measured["voltage"][k], measured["temperature"][k], measured["current"][k], 1.0,
                         measured["pack_voltage"][k], float(k >= 30)) for k in range(STEPS)]
    got = np.array(got + first)
    np.testing.assert_array_equal(got[:, :NS], np.array([r["soc"] for r in ref]))
    np.testing.assert_array_equal(got[:, NS], [r["discharge_current_limit_A"] for r in ref])
    np.testing.assert_array_equal(got[:, NS + 1], [r["charge_current_request_A"] for r in ref])
    np.testing.assert_array_equal(got[:, NS + 2], [r["pack_soc_usable"] for r in ref])
    assert got[-1, NS + 1] > 0  # the charger was connected from step 30


@pytest.mark.parametrize("version", VERSIONS)
def test_bms_fmu_refuses_nan_naming_the_input(open_fmu, fmus, version):
    host = open_fmu(fmus[version], instance=f"bad{version}")
    host.initialize()
    host.set(packCurrent=float("nan"))
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert any("packCurrent" in e for e in host.errors()), host.errors()


def test_bms_fmu_carries_the_cell_files_provenance(fmus):
    from click.testing import CliRunner

    from fmutwin.cli import main

    result = CliRunner().invoke(main, ["provenance", str(fmus[3])])
    assert result.exit_code == 0, result.output
    assert "bms_example_12s4p" in result.output and "PyBaMM ECM example" in result.output
    assert "[ok] cell provenance record" in result.output and "status: up to date" in result.output
