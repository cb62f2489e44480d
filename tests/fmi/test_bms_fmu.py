"""The BMS as FMI 2.0 and 3.0 FMUs, Python and native (generated C): conformant (FMI 3.0 arrays,
FMI 2.0 indexed scalars, Boolean alarms and bleed switches), equal to the BMS twin step for step
on a module-twin plant's measurements (the native FMU over a whole UDDS run, every output), state
restore, its provenance chain to the cell file, and a bad input refused with a log line naming it."""

from __future__ import annotations

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from fmutwin.params.defaults import default_bms_parameters, default_module_parameters
from fmutwin.registry import twin
from fmutwin.twins.bms import BmsTwin
from fmutwin.twins.bms_interface import declaration
from fmutwin.twins.module import ModuleTwin

#: (kind, FMI version) of every BMS FMU
VERSIONS = [("python", 2), ("python", 3), ("native", 2), ("native", 3)]
STEPS = 40
NS = 12


@pytest.fixture(scope="module")
def fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("bms")
    return {(kind, v): build_python_fmu(twin("bms"), v, out) if kind == "python" else build_native(twin("bms"), out, v)
            for kind, v in VERSIONS}


@pytest.fixture(scope="module")
def measured():
    """The shipped module (the plant the shipped BMS is for) on a +-150 A square wave."""
    plant = ModuleTwin(default_module_parameters())
    current = np.where(np.arange(STEPS) % 10 < 5, 150.0, -60.0)
    rows = [plant.step(float(i), 1.0) for i in current]
    return {"current": current, "voltage": np.array([r["element_voltage_V"] for r in rows]),
            "temperature": np.array([r["cell_temperature_K"].reshape(NS, 4).mean(axis=1) for r in rows]),
            "pack_voltage": np.array([r["module_voltage_V"] for r in rows])}


@pytest.mark.parametrize("kind, version", VERSIONS)
def test_bms_fmu_is_conformant(fmus, kind, version):
    assert check_fmu(fmus[kind, version]) == []


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


@pytest.mark.parametrize("kind, version", VERSIONS)
def test_bms_fmu_equals_the_twin_and_restores_its_state(open_fmu, fmus, measured, kind, version):
    host = open_fmu(fmus[kind, version], instance=f"bms{version}")
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
    # the Python FMU runs the twin's numpy equations: equal; the native FMU their generated C:
    # measured 1e-15 relative
    equal = np.testing.assert_array_equal if kind == "python" else (
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13))
    equal(got[:, :NS], np.array([r["soc"] for r in ref]))
    equal(got[:, NS], [r["discharge_current_limit_A"] for r in ref])
    equal(got[:, NS + 1], [r["charge_current_request_A"] for r in ref])
    equal(got[:, NS + 2], [r["pack_soc_usable"] for r in ref])
    assert got[-1, NS + 1] > 0  # the charger was connected from step 30


@pytest.mark.parametrize("kind, version", VERSIONS)
def test_bms_fmu_refuses_nan_naming_the_input(open_fmu, fmus, kind, version):
    host = open_fmu(fmus[kind, version], instance=f"bad{version}")
    host.initialize()
    host.set(packCurrent=float("nan"))
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert any("packCurrent" in e for e in host.errors()), host.errors()


def test_bms_fmu_carries_the_cell_files_provenance(fmus):
    from click.testing import CliRunner

    from fmutwin.cli import main

    result = CliRunner().invoke(main, ["provenance", str(fmus["native", 3])])
    assert result.exit_code == 0, result.output
    assert "bms_example_12s4p" in result.output and "PyBaMM ECM example" in result.output
    assert "[ok] cell provenance record" in result.output and "status: up to date" in result.output


def test_native_bms_fmu_equals_the_twin_over_a_udds_run(open_fmu, fmus):
    """Every output of the native FMI 3.0 FMU against the numpy twin over UDDS (peaking at 2C of
    an element) on the shipped module, the charger connected for the last 200 s, the pack voltage
    measured: the same equations as generated C and as numpy."""
    params = default_bms_parameters()
    plant = ModuleTwin(default_module_parameters())
    _, i = drive_cycle("UDDS")
    one_c = params.cell.nominal_capacity_As / 3600.0 * params.n_parallel
    current = np.concatenate([i * 2.0 * one_c / np.max(np.abs(i)), np.full(200, -0.5 * one_c)])
    charger = np.arange(len(current)) >= len(i)
    host = open_fmu(fmus["native", 3], instance="udds")
    host.initialize(packVoltageMeasured=True)
    reference = BmsTwin(params)
    outputs = declaration(params)["outputs"]
    worst, requested, rested = {}, 0.0, 0.0
    for k, amps in enumerate(current):
        plant_out = plant.step(float(amps), 1.0)
        voltage = plant_out["element_voltage_V"]
        temperature = plant_out["cell_temperature_K"].reshape(NS, -1).mean(axis=1)
        ref = reference.step(voltage, temperature, amps, 1.0, plant_out["module_voltage_V"], float(charger[k]))
        host.set(elementVoltage=voltage, elementTemperature=temperature, packCurrent=amps,
                 packVoltage=plant_out["module_voltage_V"], chargerConnected=bool(charger[k]))
        host.step(1.0)
        for var, key in outputs:
            if var.type == "Boolean":
                got = np.array(host.fmu.getBoolean([host.vars[var.name].valueReference], nValues=var.size), float)
            else:
                got = np.array(host.get(var.name))
            error = np.max(np.abs(got - ref[key]) / np.maximum(1.0, np.abs(ref[key])))
            worst[key] = max(worst.get(key, 0.0), float(error))
        requested = max(requested, ref["charge_current_request_A"])
        rested = max(rested, ref["rest_time_s"])
    # measured 8e-16 (the issue asks 1e-9)
    assert max(worst.values()) < 1e-12, {k: v for k, v in worst.items() if v >= 1e-12}
    assert requested > 0 and rested > 0  # the charger's and the rest's paths were taken


@pytest.mark.parametrize("kind, version", VERSIONS)
def test_bms_fmu_takes_every_start_value_and_runs_beside_another_instance(open_fmu, fmus, measured, kind, version):
    """As importers use it: one instance with every parameter's start written (and
    the inputs set during initialisation), one with none, stepped in turn on the same
    measurements: the same outputs; a third instance with another initial SoC differs."""
    from test_importer_contract import declared_starts

    path = fmus[kind, version]
    starts = declared_starts(path)
    assert {"socFromOcv", "initialSoc", "cvVoltage", "currentLimit"} <= set(starts)
    hosts = [open_fmu(path, instance=f"{name}{version}") for name in ("all", "none", "other")]
    for host, values in zip(hosts, ({**starts, "initialSoc": 0.6}, {"initialSoc": 0.6}, {"initialSoc": 0.4})):
        if host.version == 2:
            host.fmu.setupExperiment(startTime=0.0)
        host.set(**{**values, "socFromOcv": False})
        host.fmu.enterInitializationMode()
        set_arrays(host, elementVoltage=measured["voltage"][0], elementTemperature=measured["temperature"][0])
        host.set(packCurrent=measured["current"][0])
        host.fmu.exitInitializationMode()
    names = (*element(hosts[0], "soc", version), "dischargeCurrentLimit")
    runs = [[], [], []]
    for k in range(10):
        for host, rows in zip(hosts, runs):
            rows.extend(run_fmu(host, measured, k, k + 1, names))
    assert all(host.errors() == [] for host in hosts)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert np.max(np.abs(np.array(runs[2])[:, :NS] - np.array(runs[1])[:, :NS])) > 0.01


@pytest.fixture(scope="module")
def hysteresis_plant():
    from test_bms import hysteresis_cell, measured_plant

    cell = hysteresis_cell()
    return cell, measured_plant(cell=cell, n_parallel=1)


@pytest.mark.parametrize("method", ["ekf", "ukf", "adaptive"])
def test_native_bms_of_a_cell_with_hysteresis_equals_the_twin(open_fmu, hysteresis_plant, tmp_path, method):
    """Every filter with the hysteresis state in its model (tests/twins/test_bms.py): the
    generated C equals the numpy twin (measured 1e-15 relative, 300 steps)."""
    import dataclasses

    from fmutwin.params.bms import BmsParameters
    from fmutwin.registry import TWINS

    cell, r = hysteresis_plant
    n_series = r["voltage"].shape[1]
    params = BmsParameters.from_dict({"name": "hysteresis", "cell": cell.model_dump(mode="json", exclude_none=True),
                                      "n_series": n_series, "n_parallel": 1,
                                      "estimator": {"initial_soc": 0.5, "method": method}})
    params.save(tmp_path / "bms.json")
    fmu = build_native(dataclasses.replace(TWINS["bms"], parameter_file=lambda: tmp_path / "bms.json"), tmp_path, 3)
    host = open_fmu(fmu, instance=method)
    host.initialize()
    twin = BmsTwin(params)
    for k in range(300):
        y = twin.step(r["voltage"][k], r["temperature"][k], r["current"][k], 1.0)
        host.set(elementVoltage=r["voltage"][k], elementTemperature=r["temperature"][k], packCurrent=r["current"][k])
        host.step(1.0)
        got = host.get("soc", "dischargeCurrentLimit", "chargeCurrentLimit")
        np.testing.assert_allclose(got, np.r_[y["soc"], y["discharge_current_limit_A"], y["charge_current_limit_A"]],
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind, version", VERSIONS)
def test_bms_outputs_during_initialisation_and_a_bad_input_there(open_fmu, fmus, measured, kind, version):
    """Outputs read in initialisation mode follow the inputs set so far (the same after its end);
    a temperature below its range set there is refused at its end, naming it."""
    for bad in (False, True):
        host = open_fmu(fmus[kind, version], instance=f"init{bad}{version}")
        if host.version == 2:
            host.fmu.setupExperiment(startTime=0.0)
        host.fmu.enterInitializationMode()
        set_arrays(host, elementVoltage=measured["voltage"][0],
                   elementTemperature=[0.5] * NS if bad else measured["temperature"][0])
        if bad:
            with pytest.raises(FMICallException):
                host.fmu.exitInitializationMode()
            assert any("elementTemperature" in e for e in host.errors()), host.errors()
            continue
        during = host.get(*element(host, "soc", version))
        host.fmu.exitInitializationMode()
        assert during == host.get(*element(host, "soc", version)) and min(during) > 0.05
