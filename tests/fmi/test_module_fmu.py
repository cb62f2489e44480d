"""The module twin as FMUs: Python (EquationModel) and native (generated C), FMI 2.0 and 3.0, from
its one declaration. A 3s2p module of cells with hysteresis (some stuck at zero current: the
split's set-valued case), 10 % variation, interconnects, a thermal grid and a bleeding element,
over US06: every export equals the numpy ModuleTwin (1e-9), in fmpy, libcosim
(FMI 2.0), ecos and the C test host (native, no Python); conformant; FMU state bit-identical; 8
instances independent; every start value writable."""

from __future__ import annotations

import gc
import re
from dataclasses import replace

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from cells import make_cell
from modules import make_module
from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from fmutwin.registry import twin
from fmutwin.twins.module import ModuleTwin
from fmutwin.twins.module_interface import equation_spec
from test_c_host import clean_environment, unzip_fmu, write_profile

CASES = [(k, v) for k in ("python", "native") for v in (2, 3)]
BLEED = [True, False, False]


def _params():
    cell = make_cell(hysteresis={"rate": 20.0, "max_voltage_V": 0.02, "initial_state": 0.0,
                                 "instantaneous_voltage_V": {"soc": [0.0, 1.0], "values": [0.006, 0.003]}})
    return make_module(3, 2, cell, variation={"capacity_scale": {"kind": "normal", "spread": 0.1, "seed": 5},
                                        "r0_scale": {"kind": "normal", "spread": 0.1, "seed": 6},
                                        "initial_soc": {"kind": "uniform", "spread": 0.05, "seed": 7}},
                       interconnect={"tab_resistance_ohm": 2e-4, "parallel_busbar_resistance_ohm": 1e-4,
                                     "series_busbar_resistance_ohm": 1e-4},
                       thermal={"layout": "grid", "columns": 2, "neighbour_conductance_W_per_K": 0.5,
                                "cold_plate_conductance_W_per_K": 1.0}).realise()


@pytest.fixture(scope="module")
def module_fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("module")
    params = _params()
    path = out / "small_module.json"
    params.save(path)
    entry = replace(twin("module"), parameter_file=lambda: path, equations=lambda: equation_spec(params))
    fmus = {("python", v): build_python_fmu(entry, v, out) for v in (2, 3)}
    fmus.update({("native", v): build_native(entry, out, v) for v in (2, 3)})
    return params, fmus


@pytest.fixture(scope="module")
def us06():
    return drive_cycle("US06", scale=20.0)  # 2p of 100 Ah cells: peaks about 0.8C per cell


@pytest.fixture(scope="module")
def reference(module_fmus, us06):
    time_s, current = us06
    out = ModuleTwin(module_fmus[0]).run(time_s, current, 295.0, 300.0, bleed=np.array(BLEED, float))
    assert np.count_nonzero(out["cell_mean_current_A"] == 0.0) > 10  # stuck cells are compared too
    return out


def _set_bleed(host, values):
    if host.version == 3:
        host.fmu.setBoolean([host.vars["bleed"].valueReference], list(values))
    else:
        host.fmu.setBoolean([host.vars[f"bleed[{e + 1}]"].valueReference for e in range(len(values))], list(values))


def _cells(host, name, n):
    return host.get(name) if host.version == 3 else host.get(*[f"{name}[{c + 1}]" for c in range(n)])


def _fmpy_run(open_fmu, path, current, steps, instance="m"):
    host = open_fmu(path, instance=instance)
    host.initialize(coldPlateTemperature=295.0, ambientTemperature=300.0)
    _set_bleed(host, BLEED)
    rows = []
    for k in range(steps):
        host.set(current=current[k])
        host.step(1.0)
        rows.append([host.get("moduleVoltage")[0], *_cells(host, "cellCurrent", 6), *_cells(host, "cellTemperature", 6)])
    assert host.errors() == [], host.errors()
    return np.array(rows), host


def test_every_export_is_conformant(module_fmus):
    for path in module_fmus[1].values():
        assert check_fmu(path) == [], path.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-fmi{c[1]}")
def test_every_export_equals_the_numpy_module_over_us06(open_fmu, module_fmus, us06, reference, case):
    time_s, current = us06
    got, _ = _fmpy_run(open_fmu, module_fmus[1][case], current, len(time_s) - 1)
    np.testing.assert_allclose(got[:, 0], reference["module_voltage_V"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(got[:, 1:7], reference["cell_current_A"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[:, 7:], reference["cell_temperature_K"], rtol=1e-12, atol=0)
    assert np.ptp(reference["cell_current_A"][300]) > 1.0  # the cells really differ


def test_fmi2_arrays_are_indexed_scalars_and_fmi3_arrays(module_fmus):
    md2 = fmpy.read_model_description(str(module_fmus[1][("native", 2)]))
    md3 = fmpy.read_model_description(str(module_fmus[1][("native", 3)]))
    names2 = {v.name for v in md2.modelVariables}
    assert {f"cellVoltage[{c}]" for c in range(1, 7)} <= names2 and "bleed[3]" in names2
    voltage3 = next(v for v in md3.modelVariables if v.name == "cellVoltage")
    assert [int(d.start) for d in voltage3.dimensions] == [6] and voltage3.unit == "V"


def test_state_restore_is_bit_identical_and_instances_are_independent(open_fmu, module_fmus, us06):
    time_s, current = us06
    for case in (("python", 3), ("native", 2)):
        path = module_fmus[1][case]
        host = open_fmu(path, instance=f"s{case}")
        host.initialize()
        names = ("moduleVoltage", "minCellSoc", "maxCellTemperature")
        host.run_current(current, 0, 50, names)
        first, *again = host.reruns_from_saved_state(current, 50, 100, names)
        assert again == [first, first], case
    hosts = [open_fmu(module_fmus[1][("native", 3)], instance=f"i{j}") for j in range(8)]
    for j, h in enumerate(hosts):
        h.initialize(initialSoc=[0.3 + 0.05 * j] * 6)
    for k in range(20):
        for j, h in enumerate(hosts):
            h.set(current=current[k] * (1 + 0.1 * j))
            h.step(1.0)
    socs = [h.get("minCellSoc")[0] for h in hosts]
    for j in range(8):
        params = _params()
        params = params.model_copy(update={"realised": {**params.realised, "initial_soc": [0.3 + 0.05 * j] * 6}})
        ref = ModuleTwin(params).run(time_s[:21], current[:20] * (1 + 0.1 * j))
        assert socs[j] == pytest.approx(ref["min_cell_soc"][-1], abs=1e-12)


def test_writing_every_start_value_runs_the_default(open_fmu, module_fmus):
    from test_importer_contract import declared_starts

    for case in CASES:
        path = module_fmus[1][case]
        starts = declared_starts(path)
        assert {"numSeries", "numParallel", "capacityScale" if case[1] == 3 else "capacityScale[1]"} <= set(starts)
        runs = []
        for values in ({}, starts):
            host = open_fmu(path, instance=f"w{len(runs)}{case}")
            host.initialize(**values)
            host.set(current=50.0)
            host.step(1.0)
            runs.append(host.get("moduleVoltage", "maxCellTemperature"))
        assert runs[0] == runs[1], case


@pytest.mark.parametrize("case", CASES)
def test_a_cell_that_runs_empty_is_logged_with_its_index_and_time(open_fmu, module_fmus, case):
    """Element 2 (cells 5 and 6) starts at SOC 0.01: at 60 A it is empty after about two minutes;
    every export logs a warning naming the cell and the time, and keeps running."""
    host = open_fmu(module_fmus[1][case], instance=f"empty{case}")
    socs = [0.5, 0.5, 0.5, 0.5, 0.01, 0.01]
    host.initialize(**({f"initialSoc[{k + 1}]": v for k, v in enumerate(socs)} if case[1] == 2
                       else {"initialSoc": socs}))
    host.set(current=60.0)
    for _ in range(10):
        host.step(20.0)
    logged = [w for w in host.warnings() if "cellSoc[" in w]
    assert logged and all(re.search(r"t = \d+(\.\d*)?: cellSoc\[[56]\] = -[\d.e-]+ outside \[0, 1\]", w)
                          for w in logged), host.logs
    first = float(re.search(r"t = ([\d.]+)", logged[0]).group(1))
    assert 100.0 <= first <= 200.0


def test_structural_sizes_cannot_change(open_fmu, module_fmus):
    from fmpy.fmi1 import FMICallException

    host = open_fmu(module_fmus[1][("native", 3)])
    with pytest.raises(FMICallException):
        host.initialize(numParallel=3)
    assert "numParallel" in host.errors()[-1]


def test_native_module_in_libcosim_and_ecos(module_fmus, us06, reference, tmp_path):
    """Third-party masters: libcosim (FMI 2.0) and ecos (FMI 2.0 and 3.0) set the current through
    their own APIs (bleed off, ambient and cold plate at their starts)."""
    from ecospy import EcosSimulation, EcosSimulationStructure
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimManipulator import CosimManipulator
    from libcosimpy.CosimObserver import CosimObserver
    from libcosimpy.CosimSlave import CosimLocalSlave

    time_s, current = us06
    n = 120
    plain = ModuleTwin(module_fmus[0]).run(time_s[:n + 1], current[:n])
    execution = CosimExecution.from_step_size(step_size=round(1e9))
    slave = CosimLocalSlave(fmu_path=str(module_fmus[1][("native", 2)]), instance_name="module")
    index = execution.add_local_slave(slave)
    refs = {v.name.decode(): v.reference for v in execution.slave_variables(index)}
    override, observer = CosimManipulator.create_override(), CosimObserver.create_last_value()
    execution.add_manipulator(override)
    execution.add_observer(observer)
    volts = []
    for k in range(n):
        override.slave_real_values(index, [refs["current"]], [float(current[k])])
        assert execution.step()
        volts.append(observer.last_real_values(index, [refs["moduleVoltage"]])[0])
    del execution, override, observer, slave
    gc.collect()
    np.testing.assert_allclose(volts, plain["module_voltage_V"], rtol=1e-9)
    for version in (2, 3):
        with EcosSimulationStructure() as structure:
            structure.add_model("module", module_fmus[1][("native", version)])
            with EcosSimulation(structure=structure, step_size=1.0) as sim:
                sim.init()
                got = []
                for k in range(n):
                    sim.set_real("module::current", float(current[k]))
                    sim.step()
                    got.append(sim.get_real("module::moduleVoltage"))
                sim.terminate()
        gc.collect()
        np.testing.assert_allclose(got, plain["module_voltage_V"], rtol=1e-9, err_msg=f"ecos FMI {version}")


@pytest.mark.parametrize("version", [2, 3])
def test_native_module_in_the_c_host_without_python(fmu_host, module_fmus, us06, tmp_path, version):
    import subprocess
    import xml.etree.ElementTree as ET

    time_s, current = us06
    fmu_dir = unzip_fmu(module_fmus[1][("native", version)], tmp_path / "fmu")
    root = ET.parse(fmu_dir / "modelDescription.xml").getroot()
    variables = root.iterfind("ModelVariables/ScalarVariable") if version == 2 else root.find("ModelVariables")
    refs = {v.get("name"): v.get("valueReference") for v in variables}
    token = root.get("guid") if version == 2 else root.get("instantiationToken")
    profile = write_profile(tmp_path / "us06.csv", time_s, current)
    cmd = [str(fmu_host), str(fmu_dir), str(version), "ModuleNative", token,
           *(refs[n] for n in ("current", "ambientTemperature", "moduleVoltage", "minCellSoc")),
           str(profile), str(tmp_path / "out.csv")]
    proc = subprocess.run(cmd, env=clean_environment(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1, ndmin=2)
    ref = ModuleTwin(module_fmus[0]).run(time_s, current, 298.15, 298.15)
    np.testing.assert_allclose(data[:, 1], ref["module_voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(data[:, 2], ref["min_cell_soc"], rtol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_outputs_read_during_initialisation_follow_the_inputs_set_so_far(open_fmu, module_fmus, case):
    """An importer that reads outputs in initialisation mode (to initialise what they feed) gets
    them from the parameters and inputs set so far, as after the end of initialisation."""
    host = open_fmu(module_fmus[1][case], instance=f"init{case}")
    if host.version == 2:
        host.fmu.setupExperiment(startTime=0.0)
    host.fmu.enterInitializationMode()
    host.set(current=80.0)
    during = host.get("moduleVoltage", "moduleCurrent")
    host.fmu.exitInitializationMode()
    assert during == host.get("moduleVoltage", "moduleCurrent") and during[1] == 80.0
    assert host.errors() == []


@pytest.mark.parametrize("case", CASES)
def test_an_input_out_of_range_set_during_initialisation_is_refused_naming_it(open_fmu, module_fmus, case):
    host = open_fmu(module_fmus[1][case], instance=f"bad{case}")
    if host.version == 2:
        host.fmu.setupExperiment(startTime=0.0)
    host.fmu.enterInitializationMode()
    host.set(ambientTemperature=0.0)
    with pytest.raises(FMICallException):
        host.fmu.exitInitializationMode()
    assert any("ambientTemperature" in e for e in host.errors()), host.errors()
