"""What importers do with every FMU, Python and native, FMI 2.0 and 3.0, taken from the
modelDescription as an importer reads it (not from fmutwin's declaration):

* write every start value before initialising -- the run equals the run that writes none, and so
  does writing any one parameter's start;
* every start lies in its declared range and is the same in every export of one twin;
* set inputs during initialisation -- the outputs after initialisation follow them, as the
  ModelStructure dependencies say (the voltage drops by I R0 at once);
* call in the wrong state -- refused with a log line (a step after a failed step, a parameter
  after terminate or in step mode).
"""

from __future__ import annotations

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException
from scipy.interpolate import RegularGridInterpolator

from fmutwin.params import default_cell_parameters

KINDS = ["python", "process", "native"]  # in-process Python, out-of-process Python, native
VERSIONS = [2, 3]
OUTPUTS = ["batteryVoltage", "batteryTemperature", "stateOfCharge", "heatGenerationRate", "terminalEnergy"]


@pytest.fixture(scope="module", params=[(k, v) for k in KINDS for v in VERSIONS], ids=lambda p: f"{p[0]}-fmi{p[1]}")
def fmu(request, fmu_dir, process_fmu_dir, native_dir):
    kind, version = request.param
    return _path(kind, version, fmu_dir, process_fmu_dir, native_dir)


def _path(kind: str, version: int, fmu_dir, process_fmu_dir, native_dir):
    folder = {"python": fmu_dir, "process": process_fmu_dir}.get(kind)
    return folder / f"CellECM_fmi{version}.fmu" if folder else native_dir / f"CellECMNative_fmi{version}.fmu"


def declared_starts(path) -> dict:
    """Every parameter's start as the modelDescription gives it, converted as an importer does."""
    md = fmpy.read_model_description(str(path))
    out = {}
    for v in md.modelVariables:
        if v.causality != "parameter" or v.start is None:
            continue
        convert = {"Real": float, "Float64": float, "Integer": int, "Int32": int, "String": str,
                   "Boolean": lambda s: s in ("true", "1", True)}[v.type]
        if v.dimensions:
            out[v.name] = [convert(x) for x in str(v.start).split()]
        else:
            out[v.name] = convert(v.start) if not isinstance(v.start, (bool, int, float)) else v.start
    return out


def run(open_fmu, path, starts: dict, n: int = 20, instance: str = "cell") -> np.ndarray:
    host = open_fmu(path, instance=instance)
    host.initialize(**starts)
    rows = [host.get(*OUTPUTS)]
    for k in range(n):
        host.set(current=80.0 * np.sin(0.3 * k) + 20.0)
        host.step(1.0)
        rows.append(host.get(*OUTPUTS))
    assert host.errors() == [], host.errors()
    return np.array(rows)


def test_writing_every_start_value_runs_the_default_fmu(open_fmu, fmu):
    starts = declared_starts(fmu)
    assert {"nominalCapacity", "initialCycles", "internalShortTriggerTemperature", "currentLimit",
            "table.ocv.values" if "fmi3" in fmu.name else "table.ocv.values[1]"} <= set(starts)
    np.testing.assert_array_equal(run(open_fmu, fmu, starts, instance="all"), run(open_fmu, fmu, {}))


def test_writing_any_one_parameter_at_its_start_changes_nothing(open_fmu, fmu):
    starts = declared_starts(fmu)
    reference = run(open_fmu, fmu, {}, n=5)
    arrays: dict[str, dict] = {}
    for name, value in starts.items():  # FMI 2.0 array elements are written array by array
        arrays.setdefault(name.split("[")[0], {})[name] = value
    for group in arrays.values():
        np.testing.assert_array_equal(run(open_fmu, fmu, group, n=5, instance=next(iter(group))), reference,
                                      err_msg=str(list(group)[:3]))


def test_every_start_lies_in_its_range_and_is_the_same_in_every_export(fmu_dir, process_fmu_dir, native_dir):
    mds = {f"{k}{v}": fmpy.read_model_description(str(_path(k, v, fmu_dir, process_fmu_dir, native_dir)))
           for k in KINDS for v in VERSIONS}
    starts: dict[str, dict[str, list[float]]] = {}
    for key, md in mds.items():
        for v in md.modelVariables:
            if v.causality not in ("parameter", "input") or v.start is None or v.type in ("String", "Boolean"):
                continue
            values = [float(x) for x in str(v.start).split()]
            lo = float(v.min) if v.min is not None else -np.inf
            hi = float(v.max) if v.max is not None else np.inf
            assert all(lo <= x <= hi for x in values), (key, v.name, values[:3], lo, hi)
            starts.setdefault(v.name.split("[")[0], {}).setdefault(key, []).extend(values)
    for name, by_export in starts.items():
        first = next(iter(by_export.values()))
        for key, values in by_export.items():
            assert values == first, (name, key)
    assert set(starts["initialCycles"]) == {f"{k}{v}" for k in KINDS for v in VERSIONS}


def _default_voltage_drop(current_A: float) -> tuple[float, float]:
    """OCV and the terminal voltage of the default cell at its initial state with ``current_A``,
    straight from its tables (scipy interpolation): V = OCV - I R0, the RC pair and hysteresis
    at rest."""
    p = default_cell_parameters()
    soc, temperature = p.initial.soc, p.initial.temperature_K
    ocv = float(np.interp(soc, p.ocv_V.soc, p.ocv_V.values))
    table = p.r0_ohm if current_A >= 0 else p.r0_charge_ohm
    r0 = float(RegularGridInterpolator((table.soc, table.temperature_K), np.asarray(table.values))([soc, temperature])[0])
    return ocv, ocv - current_A * r0


@pytest.mark.parametrize("current_A", [5.0, -40.0])
def test_inputs_set_during_initialisation_reach_the_outputs(open_fmu, fmu, current_A):
    host = open_fmu(fmu)
    host.initialize(current=current_A, ambientTemperature=300.0)
    ocv, voltage = _default_voltage_drop(current_A)
    got_current, got_voltage, got_ocv = host.get("batteryCurrent", "batteryVoltage", "ocv")
    assert got_current == current_A
    assert got_ocv == pytest.approx(ocv, abs=1e-12) and got_voltage == pytest.approx(voltage, abs=1e-9)


def test_declared_dependencies_hold_at_the_initial_state(open_fmu, fmu):
    """batteryVoltage depends on current (R0); an output declared independent of an input does not
    move when that input moves during initialisation."""
    md = fmpy.read_model_description(str(fmu))
    deps = {u.variable.name: {d.name for d in u.dependencies} for u in md.outputs}
    assert "current" in deps["batteryVoltage"] and deps["capacity"] == set()
    outputs = [name for name in deps]
    looks = {}
    for inputs in ({}, {"current": 37.0}, {"ambientTemperature": 310.0}, {"heatFlow": 5.0}):
        host = open_fmu(fmu, instance=str(inputs))
        host.initialize(**inputs)
        values = []
        for name in outputs:
            var = host.vars[name]
            getter = host.fmu.getBoolean if var.type == "Boolean" else (
                host.fmu.getReal if host.version == 2 else host.fmu.getFloat64)
            values.append(float(getter([var.valueReference])[0]))
        looks[next(iter(inputs), None)] = dict(zip(outputs, values))
    for name in outputs:
        for changed in ("current", "ambientTemperature", "heatFlow"):
            if changed not in deps[name]:
                assert looks[changed][name] == looks[None][name], (name, changed)
    assert looks["current"]["batteryVoltage"] != looks[None]["batteryVoltage"]


def test_a_step_after_a_failed_step_is_refused(open_fmu, fmu):
    host = open_fmu(fmu)
    host.initialize()
    host.set(current=float("nan"))
    with pytest.raises(FMICallException):
        host.step(1.0)
    try:
        host.set(current=1.0)  # the native shell refuses this already (error state)
    except FMICallException:
        pass
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert len(host.errors()) >= 2 and all("failed" in e or "error" in e for e in host.errors()[1:]), host.errors()


def test_native_refuses_calls_in_the_wrong_state(open_fmu, native_dir):
    for version in VERSIONS:
        host = open_fmu(native_dir / f"CellECMNative_fmi{version}.fmu", instance=f"s{version}")
        host.initialize()
        with pytest.raises(FMICallException):
            host.set(thermalMass=500.0)  # step mode: parameters are fixed
        assert "setting a parameter is not allowed in state step mode" in host.errors()[-1]
        with pytest.raises(FMICallException):
            host.fmu.enterInitializationMode()
        host.fmu.terminate()
        with pytest.raises(FMICallException):
            host.set(current=1.0)
        assert "not allowed in state terminated" in host.errors()[-1]
        with pytest.raises(FMICallException):
            host.step(1.0)
        host.fmu.reset()  # back to instantiated: a full run again
        host.time = 0.0
        host.initialize()
        host.set(current=10.0)
        host.step(1.0)


def test_restoring_a_state_after_a_failed_step_continues(open_fmu, fmu):
    """A master that rolls back (getFMUState before the step, setFMUState after a failure) can go on."""
    host = open_fmu(fmu)
    host.initialize()
    state = host.fmu.getFMUState()
    host.set(current=float("inf"))
    with pytest.raises(FMICallException):
        host.step(1.0)
    host.fmu.setFMUState(state)
    host.set(current=10.0)
    host.step(1.0)
    assert np.isfinite(host.get("batteryVoltage")[0])


def test_current_limit_widens_and_narrows_the_current_range(open_fmu, fmu):
    """currentLimit is the current's range both ways (the default 20C = 2000 A is no ceiling of its
    own), and a limit that is no limit (NaN, negative) is refused when set."""
    wide = open_fmu(fmu, instance="wide")
    wide.initialize(currentLimit=5000.0)
    wide.set(current=2001.0)
    wide.step(1.0)
    assert wide.errors() == [] and wide.get("batteryCurrent")[0] == 2001.0
    narrow = open_fmu(fmu, instance="narrow")
    narrow.initialize(currentLimit=50.0)
    narrow.set(current=-60.0)
    with pytest.raises(FMICallException):
        narrow.step(1.0)
    assert "input current = -60 A is outside its range [-currentLimit = -50, currentLimit = 50]" in narrow.errors()[-1]
    for i, bad in enumerate((float("nan"), -1.0)):
        host = open_fmu(fmu, instance=f"bad{i}")
        with pytest.raises(FMICallException):
            host.initialize(currentLimit=bad)
        assert any("parameter currentLimit" in e for e in host.errors()), host.errors()
