"""The Python FMUs in fmpy: conformance, same answer as the twin, bad input, state, instances."""

from __future__ import annotations

import json
import shutil
import zipfile

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmi_reference import twin_reference
from fmutwin.fmi.check import check_fmu
from fmutwin.params import default_cell_parameters
from fmutwin.twins import CellECMTwin

VERSIONS = [2, 3]


@pytest.mark.parametrize("version", VERSIONS)
def test_fmu_is_conformant(cell_fmu, version):
    """XSD valid, fmpy.validate_fmu clean, every Real/Float64 has a defined SI unit."""
    assert check_fmu(cell_fmu(version)) == []
    md = fmpy.read_model_description(str(cell_fmu(version)))
    reals = [v for v in md.modelVariables if v.type in ("Real", "Float64")]
    assert reals and all(v.unit for v in reals)
    assert {u.name for u in md.unitDefinitions} >= {"V", "A", "K", "W", "J", "As", "1"}
    volt = next(u for u in md.unitDefinitions if u.name == "V")
    assert (volt.baseUnit.kg, volt.baseUnit.m, volt.baseUnit.s, volt.baseUnit.A) == (1, 2, -3, -1)
    assert "numpy" in md.description and "positive current discharges" in md.description


def test_check_names_the_variable_without_unit(cell_fmu, tmp_path):
    broken = tmp_path / "broken.fmu"
    with zipfile.ZipFile(cell_fmu(2)) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "modelDescription.xml":
                text = data.decode()
                start = text.index('name="batteryVoltage"')
                cut = text.index('unit="V"', start)
                data = (text[:cut] + text[cut + len('unit="V"'):]).encode()
            dst.writestr(item, data)
    problems = check_fmu(broken)
    assert any("variable batteryVoltage: no unit" in p for p in problems), problems


def test_check_reports_broken_files(tmp_path):
    junk = tmp_path / "junk.fmu"
    junk.write_bytes(b"not a zip")
    assert check_fmu(junk) == [f"{junk}: not an FMU (not a zip archive)"]
    empty = tmp_path / "empty.fmu"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("other.txt", "x")
    assert "no modelDescription.xml" in check_fmu(empty)[0]
    bad_xml = tmp_path / "bad.fmu"
    with zipfile.ZipFile(bad_xml, "w") as z:
        z.writestr("modelDescription.xml", "<fmiModelDescription fmiVersion='2.0'")
    assert "not well-formed" in check_fmu(bad_xml)[0]


@pytest.mark.parametrize("version", VERSIONS)
def test_simulate_fmu_over_us06_equals_the_twin(cell_fmu, us06_profile, version):
    time_s, current = us06_profile
    signal = np.array(list(zip(time_s, current)), dtype=[("time", float), ("current", float)])
    result = fmpy.simulate_fmu(str(cell_fmu(version)), stop_time=time_s[-1], step_size=1.0, output_interval=1.0,
                               input=signal, start_values={"ambientTemperature": 298.15},
                               output=["batteryVoltage", "stateOfCharge", "batteryTemperature"])
    ref = twin_reference(time_s, current)
    np.testing.assert_allclose(result["time"][1:], ref["time_s"])
    for fmu_name, key in (("batteryVoltage", "voltage_V"), ("stateOfCharge", "soc"),
                          ("batteryTemperature", "temperature_K")):
        np.testing.assert_allclose(result[fmu_name][1:], ref[key], rtol=1e-9, err_msg=fmu_name)


@pytest.mark.parametrize("version", VERSIONS)
def test_hand_written_slave_loop_equals_the_twin(open_fmu, cell_fmu, us06_profile, version):
    time_s, current = us06_profile
    host = open_fmu(cell_fmu(version))
    host.initialize(ambientTemperature=298.15)
    volts, socs = [], []
    for k in range(len(time_s) - 1):
        host.set(current=current[k])
        host.step(time_s[k + 1] - time_s[k])
        v, s = host.get("batteryVoltage", "stateOfCharge")
        volts.append(v)
        socs.append(s)
    host.close()
    ref = twin_reference(time_s, current)
    np.testing.assert_allclose(volts, ref["voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(socs, ref["soc"], rtol=1e-9)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name, value, expect", [
    ("current", float("nan"), "input current = nan is not finite"),
    ("current", float("inf"), "input current = inf is not finite"),
    ("current", 5000.0, "input current = 5000 A is outside its range [-currentLimit = -2000, currentLimit = 2000]"),
    ("ambientTemperature", -1.0, "input ambientTemperature = -1 K is outside its range [100, 2000]"),
])
def test_bad_input_gives_error_status_and_one_log_line(open_fmu, cell_fmu, version, name, value, expect):
    host = open_fmu(cell_fmu(version))
    host.initialize()
    host.set(current=10.0)
    host.step(1.0)
    before = host.get("batteryVoltage")[0]
    host.set(**{name: value})
    with pytest.raises(FMICallException):
        host.step(1.0)
    errors = host.errors()
    assert len(errors) == 1 and expect in errors[0], host.logs
    assert np.isfinite(host.get("batteryVoltage")[0]) and host.get("batteryVoltage")[0] == before


@pytest.mark.parametrize("version", VERSIONS)
def test_current_limit_parameter_moves_the_accepted_range(open_fmu, cell_fmu, version):
    """currentLimit sets the current's range both ways: lower (50 A refuses 60 A) and higher
    (5000 A accepts 2001 A, beyond the default 20C = 2000 A)."""
    host = open_fmu(cell_fmu(version))
    host.initialize(currentLimit=50.0)
    host.set(current=60.0)
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert "input current = 60 A is outside its range [-currentLimit = -50, currentLimit = 50]" in host.errors()[0]
    wide = open_fmu(cell_fmu(version), instance="wide")
    wide.initialize(currentLimit=5000.0)
    wide.set(current=2001.0)
    wide.step(1.0)
    assert wide.errors() == [] and wide.get("batteryCurrent")[0] == 2001.0


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("value", [float("nan"), -1.0])
def test_current_limit_that_is_not_a_limit_is_refused(open_fmu, cell_fmu, version, value):
    host = open_fmu(cell_fmu(version))
    with pytest.raises(FMICallException):
        host.initialize(currentLimit=value)
    assert any("parameter currentLimit" in e for e in host.errors()), host.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_soc_leaving_its_range_warns_or_fails_as_the_parameter_says(open_fmu, cell_fmu, version):
    host = open_fmu(cell_fmu(version))
    host.initialize(initialSoc=0.0005)
    host.set(current=500.0)
    host.step(10.0)  # warning only
    assert any("stateOfCharge" in w for w in host.warnings()), host.logs
    strict = open_fmu(cell_fmu(version), instance="strict")
    strict.initialize(initialSoc=0.0005, socLimitIsError=True)
    strict.set(current=500.0)
    with pytest.raises(FMICallException):
        strict.step(10.0)
    assert any("SOC" in e for e in strict.errors()), strict.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_parameter_file_fails_initialisation_naming_the_field(open_fmu, cell_fmu, tmp_path, version):
    data = default_cell_parameters().model_dump(exclude_none=True)
    data["nominal_capacity_As"] = -5.0
    path = tmp_path / "bad_cell.json"
    path.write_text(json.dumps(data))
    host = open_fmu(cell_fmu(version))
    with pytest.raises(FMICallException):
        host.initialize(parameterFile=str(path))
    assert any("nominal_capacity_As" in e and "greater than 0" in e for e in host.errors()), host.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_bad_parameter_value_fails_initialisation_naming_it(open_fmu, cell_fmu, version):
    host = open_fmu(cell_fmu(version))
    with pytest.raises(FMICallException):
        host.initialize(thermalMass=-3.0)
    assert any("parameter thermalMass = -3 J/K is outside its range [1e-09, 1e+09]" in e for e in host.errors()), \
        host.logs


@pytest.mark.parametrize("version", VERSIONS)
def test_parameter_file_and_overrides(open_fmu, cell_fmu, tmp_path, version, us06_profile):
    """A parameter file from the string parameter, with importer-set scalars on top."""
    params = default_cell_parameters().with_changes(nominal_capacity_As=5 * 3600.0,
                                                    initial={"soc": 0.8, "temperature_K": 298.15})
    path = tmp_path / "small_cell.json"
    params.save(path)
    time_s, current = us06_profile
    host = open_fmu(cell_fmu(version))
    host.initialize(parameterFile=str(path), heatTransferCoefficient=2.5)
    volts = []
    for k in range(100):
        host.set(current=current[k] / 10)
        host.step(1.0)
        volts.append(host.get("batteryVoltage")[0])
    expected = params.with_changes(thermal={"model": "lumped", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 2.5})
    ref = CellECMTwin(expected).run(time_s[:101], current[:100] / 10)
    np.testing.assert_allclose(volts, ref["voltage_V"], rtol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_fmu_state_save_restore_and_serialize_are_bit_identical(open_fmu, cell_fmu, us06_profile, version):
    time_s, current = us06_profile
    host = open_fmu(cell_fmu(version))
    host.initialize()

    def run(k0, k1):
        out = []
        for k in range(k0, k1):
            host.set(current=current[k])
            host.step(1.0)
            out.append(host.get("batteryVoltage", "stateOfCharge", "batteryTemperature", "heatGenerated"))
        return out

    run(0, 300)
    state = host.fmu.getFMUState() if version == 2 else host.fmu.getFMUState()
    blob = host.fmu.serializeFMUState(state)
    first = run(300, 600)
    host.fmu.setFMUState(state)
    host.time = 300.0
    second = run(300, 600)
    assert first == second
    restored = host.fmu.deserializeFMUState(blob)
    host.fmu.setFMUState(restored)
    host.time = 300.0
    assert run(300, 600) == first


@pytest.mark.parametrize("version", VERSIONS)
def test_eight_instances_in_one_process_are_independent(open_fmu, cell_fmu, us06_profile, version, tmp_path):
    time_s, current = us06_profile
    socs = np.linspace(0.3, 0.9, 8)
    caps = np.linspace(50, 120, 8) * 3600.0
    shared_dir = fmpy.extract(str(cell_fmu(version)))
    hosts = [open_fmu(cell_fmu(version), instance=f"cell{i}", unzip_dir=shared_dir) for i in range(8)]
    for h, soc, cap in zip(hosts, socs, caps):
        h.initialize(initialSoc=soc, nominalCapacity=cap)
    out = np.zeros((8, 200))
    for k in range(200):
        for i, h in enumerate(hosts):
            h.set(current=current[k] * (1 + 0.1 * i))
            h.step(1.0)
            out[i, k] = h.get("batteryVoltage")[0]
    for h in hosts:
        h.close()
    shutil.rmtree(shared_dir, ignore_errors=True)
    for i in range(8):
        params = default_cell_parameters().with_changes(nominal_capacity_As=caps[i],
                                                        initial={"soc": socs[i], "temperature_K": 298.15})
        ref = CellECMTwin(params).run(time_s[:201], current[:200] * (1 + 0.1 * i))
        np.testing.assert_allclose(out[i], ref["voltage_V"], rtol=1e-12, err_msg=f"instance {i}")


@pytest.mark.parametrize("version", VERSIONS)
def test_new_instance_after_terminate_and_free(open_fmu, cell_fmu, version):
    values = []
    for _ in range(3):
        host = open_fmu(cell_fmu(version))
        host.initialize()
        host.set(current=20.0)
        host.step(1.0)
        values.append(host.get("batteryVoltage")[0])
        host.close()
    assert values[0] == values[1] == values[2]


def test_fmi3_table_array_parameters_replace_the_file_tables(open_fmu, cell_fmu):
    """FMI 3.0 exposes the tables as Float64 arrays (FMI 2.0 as indexed scalars)."""
    md2 = fmpy.read_model_description(str(cell_fmu(2)))
    assert "table.ocv.values[1]" in {v.name for v in md2.modelVariables}
    md3 = fmpy.read_model_description(str(cell_fmu(3)))
    ocv = next(v for v in md3.modelVariables if v.name == "table.ocv.values")
    r0 = next(v for v in md3.modelVariables if v.name == "table.r0.values")
    assert [int(d.start) for d in r0.dimensions] == list(np.shape(default_cell_parameters().r0_ohm.values))
    default = default_cell_parameters()
    shifted = (np.asarray(default.ocv_V.values) + 0.1).tolist()
    r0_flat = (np.ravel(default.r0_ohm.values) * 2).tolist()
    results = []
    for overrides in ({}, {"table.ocv.values": shifted, "table.r0.values": r0_flat}):
        host = open_fmu(cell_fmu(3), instance=f"t{len(results)}")
        host.initialize(**overrides)
        host.set(current=50.0)
        host.step(1.0)
        results.append(host.get("batteryVoltage", "ocv"))
    assert results[1][1] - results[0][1] == pytest.approx(0.1, abs=1e-12)
    expected = default.with_changes(ocv_V={**default.ocv_V.model_dump(), "values": shifted},
                                    r0_ohm={**default.r0_ohm.model_dump(), "values": np.reshape(
                                        r0_flat, np.shape(default.r0_ohm.values)).tolist()})
    y = CellECMTwin(expected).step(50.0, 1.0)
    assert results[1][0] == pytest.approx(y["voltage_V"][0], rel=1e-12)
    assert ocv.unit == "V" and len(ocv.dimensions) == 1


def test_fmi3_table_with_wrong_size_fails_initialisation(open_fmu, cell_fmu):
    host = open_fmu(cell_fmu(3))
    with pytest.raises(FMICallException):
        host.initialize(**{"table.ocv.soc": [0.0, 0.5, 1.0]})
    assert any("parameter table.ocv.soc: 3 values for 110 elements" in e for e in host.errors()), host.logs
