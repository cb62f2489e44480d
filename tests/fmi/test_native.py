"""Native FMI 2.0 and 3.0 FMUs: the cell step generated as C by CasADi inside one C shell; no
Python at run time. Compared with the numpy twin, checked, run in fmpy, libcosim, ecos and the C
host with no Python environment, rebuilt from their shipped sources."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from cells import all_features
from fmutwin.data import drive_cycle
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native_fmu
from fmutwin.params import default_cell_parameters
from fmutwin.twins import CellECMTwin
from fmutwin.twins.cell_ecm_interface import equation_spec
from fmutwin.registry import twin
from test_c_host import clean_environment, run_host, unzip_fmu, write_profile
from test_third_party_importers import _compare, _run_ecos, _run_libcosim

VERSIONS = [2, 3]
BINARY = {2: "binaries/linux64/CellECMNative.so", 3: "binaries/x86_64-linux/CellECMNative.so"}


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"fmi{v}")
def native(request, native_dir):
    """(FMI version, path of the native cell FMU)."""
    return request.param, native_dir / f"CellECMNative_fmi{request.param}.fmu"


@pytest.fixture
def native_fmu(native):
    return native[1]


@pytest.fixture(scope="module")
def native_all_features(tmp_path_factory):
    """Every feature on: 3 RC (directional), hysteresis, self-discharge, distributed thermal,
    cycling and calendar aging, all faults (short and series resistance trigger early)."""
    out = tmp_path_factory.mktemp("native_all")
    spec = equation_spec(all_features())
    return {v: build_native_fmu(spec, "CellECMAll", twin("cell_ecm").description, out / f"all_fmi{v}.fmu", v)
            for v in VERSIONS}


def _simulate(fmu, time_s, current, **start):
    signal = np.array(list(zip(time_s, current)), dtype=[("time", float), ("current", float)])
    return fmpy.simulate_fmu(str(fmu), stop_time=float(time_s[-1]), step_size=float(time_s[1] - time_s[0]),
                             output_interval=float(time_s[1] - time_s[0]), input=signal, start_values=start,
                             output=["batteryVoltage", "stateOfCharge", "batteryTemperature", "hysteresisState",
                                     "reactionExtent", "voltageDropRC3", "heatGenerationRate"])


def test_native_fmu_is_conformant_and_exports_only_fmi(native, tmp_path):
    version, fmu = native
    assert check_fmu(fmu) == []
    with zipfile.ZipFile(fmu) as z:
        names = set(z.namelist())
        assert BINARY[version] in names
        assert {f"sources/shell_fmi{version}.c", "sources/shell_core.c", "sources/model.c"} <= names
        assert version == 2 or "sources/buildDescription.xml" in names
        (tmp_path / "lib.so").write_bytes(z.read(BINARY[version]))
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(tmp_path / "lib.so")], capture_output=True,
                             text=True).stdout
    exported = {line.split()[-1] for line in symbols.splitlines() if " T " in line}
    assert exported and all(s.startswith(f"fmi{version}") for s in exported), sorted(exported)
    assert f"fmi{version}DoStep" in exported
    assert "Native FMU" in fmpy.read_model_description(str(fmu)).description


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("cycle", ["US06", "UDDS"])
def test_native_fmu_with_every_feature_equals_the_twin(native_all_features, cycle, version):
    time_s, current = drive_cycle(cycle, scale=10.0)
    result = _simulate(native_all_features[version], time_s, current)
    ref = CellECMTwin(all_features()).run(time_s, current)
    for name, key in (("batteryVoltage", "voltage_V"), ("stateOfCharge", "soc"),
                      ("batteryTemperature", "temperature_K"), ("hysteresisState", "hysteresis_state"),
                      ("reactionExtent", "reaction_extent"), ("voltageDropRC3", "rc_voltage_3_V"),
                      ("heatGenerationRate", "heat_generation_W")):
        np.testing.assert_allclose(result[name][1:], ref[key], rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.ptp(ref["hysteresis_state"]) > 0.1 and np.ptp(ref["voltage_V"]) > 0.02


def test_native_parameters_reach_the_model(native_fmu):
    time_s, current = drive_cycle("US06", scale=10.0)
    result = _simulate(native_fmu, time_s[:101], current[:100], initialSoc=0.8, nominalCapacity=50 * 3600.0,
                       thermalMass=300.0)
    params = default_cell_parameters().with_changes(
        nominal_capacity_As=50 * 3600.0, initial={"soc": 0.8, "temperature_K": 298.15},
        thermal={"model": "lumped", "mass_J_per_K": 300.0, "heat_transfer_W_per_K": 10.0})
    ref = CellECMTwin(params).run(time_s[:101], current[:100])
    np.testing.assert_allclose(result["batteryVoltage"][1:], ref["voltage_V"], rtol=1e-12)
    np.testing.assert_allclose(result["batteryTemperature"][1:], ref["temperature_K"], rtol=1e-12)


def test_native_fmu_in_the_c_host_without_any_python(fmu_host, native_fmu, tmp_path):
    time_s, current = drive_cycle("US06", scale=10.0)
    fmu_dir = unzip_fmu(native_fmu, tmp_path / "fmu")
    profile = write_profile(tmp_path / "us06.csv", time_s, current)
    result = run_host(fmu_host, fmu_dir, profile, tmp_path / "out.csv", clean_environment())
    assert result.returncode == 0, result.stderr
    data = np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1, ndmin=2)
    ref = CellECMTwin(default_cell_parameters()).run(time_s, current)
    np.testing.assert_allclose(data[:, 1], ref["voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(data[:, 2], ref["soc"], rtol=1e-9)


def test_native_fmu_rebuilds_from_its_sources(native, tmp_path):
    from fmpy.build import build_platform_binary

    version, native_fmu = native
    work = unzip_fmu(native_fmu, tmp_path / "fmu")
    (work / BINARY[version]).unlink()
    build_platform_binary(str(work))
    rebuilt = tmp_path / "rebuilt.fmu"
    shutil.make_archive(str(rebuilt.with_suffix("")), "zip", work)
    rebuilt.with_suffix(".zip").rename(rebuilt)
    time_s, current = drive_cycle("US06", scale=10.0)
    result = _simulate(rebuilt, time_s[:61], current[:60])
    ref = CellECMTwin(default_cell_parameters()).run(time_s[:61], current[:60])
    np.testing.assert_allclose(result["batteryVoltage"][1:], ref["voltage_V"], rtol=1e-9)
    assert (work / BINARY[version]).is_file()


def test_native_fmi2_in_libcosim(native_dir, tmp_path):
    time_s, current = drive_cycle("US06", scale=10.0)
    got = _run_libcosim("local_slave", native_dir / "CellECMNative_fmi2.fmu", tmp_path, current)
    _compare("libcosim native", got, time_s, current)


def test_native_in_ecos(native):
    version, fmu = native
    time_s, current = drive_cycle("US06", scale=10.0)
    _compare(f"ecos native FMI {version}", _run_ecos(fmu, current), time_s, current)


@pytest.mark.parametrize("name, value, expect", [
    ("current", float("nan"), "input current = nan is not finite"),
    ("current", 1e5, "input current = 100000 A is outside its range [-currentLimit = -2000, currentLimit = 2000]"),
    ("ambientTemperature", -3.0, "input ambientTemperature = -3 K is outside its range [100, 2000]"),
])
def test_native_bad_input_is_an_error_with_one_log_line(open_fmu, native_fmu, name, value, expect):
    host = open_fmu(native_fmu)
    host.initialize()
    host.set(current=10.0)
    host.step(1.0)
    before = host.get("batteryVoltage")
    host.set(**{name: value})
    with pytest.raises(FMICallException, match="status 3"):  # fmi2Error / fmi3Error
        host.step(1.0)
    assert len(host.errors()) == 1 and expect in host.errors()[0], host.logs
    assert host.get("batteryVoltage") == before


def test_native_bad_parameter_value_is_refused_with_a_log_line(open_fmu, native_fmu):
    host = open_fmu(native_fmu)
    with pytest.raises(FMICallException):
        host.set(thermalMass=-1.0)
    assert "parameter thermalMass = -1 J/K is outside its range [1e-09, 1e+09]" in host.errors()[0]


def test_native_state_save_restore_is_bit_identical(open_fmu, native_fmu):
    time_s, current = drive_cycle("US06", scale=10.0)
    host = open_fmu(native_fmu)
    host.initialize()
    first, *again = host.runs_after_restore(current, 300, 600, ("batteryVoltage", "stateOfCharge",
                                                                "batteryTemperature"))
    assert again == [first, first]


def test_eight_native_instances_are_independent(open_fmu, native_fmu):
    time_s, current = drive_cycle("US06", scale=10.0)
    socs = np.linspace(0.3, 0.9, 8)
    shared = fmpy.extract(str(native_fmu))
    hosts = [open_fmu(native_fmu, instance=f"n{i}", unzip_dir=shared) for i in range(8)]
    for h, soc in zip(hosts, socs):
        h.initialize(initialSoc=soc)
    out = np.zeros((8, 100))
    for k in range(100):
        for i, h in enumerate(hosts):
            h.set(current=current[k] * (1 + 0.1 * i))
            h.step(1.0)
            out[i, k] = h.get("batteryVoltage")[0]
    for i in range(8):
        params = default_cell_parameters().with_changes(initial={"soc": socs[i], "temperature_K": 298.15})
        ref = CellECMTwin(params).run(time_s[:101], current[:100] * (1 + 0.1 * i))
        np.testing.assert_allclose(out[i], ref["voltage_V"], rtol=1e-12)


def test_generated_state_jacobian_matches_finite_differences_of_the_twin(native_dir, tmp_path):
    """The shipped state Jacobian (sources/model_derivatives.c, for an EKF), compiled and called
    from C, against central differences of the numpy step."""
    import ctypes

    from fmutwin.equations import cell
    from fmutwin.ops import NUMPY
    from fmutwin.symbolic import ParameterLayout

    work = unzip_fmu(native_dir / "CellECMNative_fmi2.fmu", tmp_path / "fmu")
    lib_path = tmp_path / "derivatives.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O0", "-o", str(lib_path), str(work / "sources" / "model_derivatives.c"),
                    "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    spec = equation_spec()
    names = spec.state_names
    initial = cell.initial_state(NUMPY, spec.structure, spec.p)
    x0 = dict({k: float(v) for k, v in initial.items()}, rc_voltage_1_V=0.01, soc=0.434)  # away from kinks
    u = {"current_A": 60.0, "ambient_temperature_K": 300.0, "heat_flow_W": 2.0, "dt_s": 1.0}
    p_vec = ParameterLayout.of(spec.p).pack(spec.p)

    c_int = ctypes.c_longlong
    sizes = [c_int() for _ in range(4)]
    getattr(lib, "cellecmnative_step_jac_x_work")(*[ctypes.byref(s) for s in sizes])
    n = len(names)
    x_arr = (ctypes.c_double * n)(*[x0[k] for k in names])
    u_arr = (ctypes.c_double * 4)(*[u[k] for k in cell.INPUTS])
    p_arr = (ctypes.c_double * len(p_vec))(*p_vec)
    jac = (ctypes.c_double * (n * n))()
    arg = (ctypes.c_void_p * max(sizes[0].value, 3))(ctypes.addressof(x_arr), ctypes.addressof(u_arr),
                                                     ctypes.addressof(p_arr))
    res = (ctypes.c_void_p * max(sizes[1].value, 1))(ctypes.addressof(jac))
    iw = (c_int * max(sizes[2].value, 1))()
    w = (ctypes.c_double * max(sizes[3].value, 1))()
    assert getattr(lib, "cellecmnative_step_jac_x")(arg, res, iw, w, 0) == 0
    got = np.array(jac).reshape(n, n, order="F")  # CasADi stores dense matrices column-major

    def step(x):
        xn, _ = cell.step(NUMPY, spec.structure, spec.p, {k: np.array([v]) for k, v in zip(names, x)},
                          {k: (np.array([v]) if k != "dt_s" else v) for k, v in u.items()})
        return np.array([float(np.ravel(xn[k])[0]) for k in names])

    base = np.array([x0[k] for k in names])
    ref = np.zeros((n, n))
    for j in range(n):
        h = 1e-6 * max(abs(base[j]), 1.0)
        up, down = base.copy(), base.copy()
        up[j] += h
        down[j] -= h
        ref[:, j] = (step(up) - step(down)) / (2 * h)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    assert abs(got[names.index("soc"), names.index("soc")] - 1.0) < 1e-12  # coulomb counting
    assert 0 < got[names.index("rc_voltage_1_V"), names.index("rc_voltage_1_V")] < 1  # exp(-dt/tau)


def test_native_fmi3_takes_tables_as_arrays(open_fmu, native_dir):
    """One native binary, another parameter set: tables through FMI 3.0 Float64 arrays. The OCV
    table's cumulative integral (derived from the parameters at exit of initialisation) follows:
    the terminal energy, which integrates the OCV over each step, equals the twin's."""
    fmu = native_dir / "CellECMNative_fmi3.fmu"
    default = default_cell_parameters()
    shifted = (np.asarray(default.ocv_V.values) + 0.1).tolist()
    r0 = np.asarray(default.r0_ohm.values) * 2
    host = open_fmu(fmu)
    host.initialize(**{"table.ocv.values": shifted, "table.r0.values": r0.ravel().tolist()})
    time_s, current = drive_cycle("US06", scale=10.0)
    volts, energy = [], []
    for k in range(60):
        host.set(current=current[k])
        host.step(1.0)
        volts.append(host.get("batteryVoltage")[0])
        energy.append(host.get("terminalEnergy")[0])
    expected = default.with_changes(ocv_V={**default.ocv_V.model_dump(), "values": shifted},
                                    r0_ohm={**default.r0_ohm.model_dump(), "values": r0.tolist()})
    ref = CellECMTwin(expected).run(time_s[:61], current[:60])
    np.testing.assert_allclose(volts, ref["voltage_V"], rtol=1e-12)
    np.testing.assert_allclose(energy, ref["terminal_energy_J"], rtol=1e-12)


def test_native_fmi2_takes_tables_as_indexed_scalars(open_fmu, native_dir):
    """FMI 2.0 has no arrays: the same tables are the scalars table.ocv.values[1] .. [n]."""
    fmu = native_dir / "CellECMNative_fmi2.fmu"
    default = default_cell_parameters()
    md = fmpy.read_model_description(str(fmu))
    names = [v.name for v in md.modelVariables if v.name.startswith("table.ocv.values[")]
    assert names == [f"table.ocv.values[{k}]" for k in range(1, len(default.ocv_V.values) + 1)]
    host = open_fmu(fmu)
    host.initialize(**{f"table.ocv.values[{k + 1}]": v + 0.1 for k, v in enumerate(default.ocv_V.values)})
    host.set(current=30.0)
    host.step(1.0)
    expected = default.with_changes(ocv_V={**default.ocv_V.model_dump(),
                                           "values": (np.asarray(default.ocv_V.values) + 0.1).tolist()})
    assert host.get("batteryVoltage")[0] == pytest.approx(CellECMTwin(expected).step(30.0, 1.0)["voltage_V"][0],
                                                         rel=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_native_refuses_a_grid_that_is_not_increasing(open_fmu, native_dir, version):
    host = open_fmu(native_dir / f"CellECMNative_fmi{version}.fmu")
    grid = list(default_cell_parameters().ocv_V.soc)
    grid[5], grid[6] = grid[6], grid[5]
    values = ({"table.ocv.soc": grid} if version == 3 else
              {f"table.ocv.soc[{k + 1}]": g for k, g in enumerate(grid)})
    with pytest.raises(FMICallException):
        host.initialize(**values)
    assert "table.ocv.soc" in host.errors()[0] and "strictly increasing" in host.errors()[0], host.errors()


def test_native_spec_sizes_and_starts_come_from_the_built_parameters():
    """A native FMU built from another parameter set declares that set's table sizes and starts
    (a mismatch would let an importer write past the parameter vector)."""
    from fmutwin.symbolic import ParameterLayout

    params = default_cell_parameters().with_changes(
        ocv_V={"soc": [0.0, 0.5, 1.0], "values": [3.0, 3.6, 4.1]}, nominal_capacity_As=7200.0,
        initial={"soc": 0.3, "temperature_K": 280.0})
    spec = equation_spec(params)
    shapes = dict(zip(ParameterLayout.of(spec.p).paths, ParameterLayout.of(spec.p).shapes))
    for var, target in spec.parameters:
        if var.dimensions:
            assert tuple(var.dimensions) == shapes[target], var.name
    starts = {var.name: var.start for var, _ in spec.parameters}
    assert starts["table.ocv.values"] == [3.0, 3.6, 4.1]
    assert starts["nominalCapacity"] == 7200.0 and starts["initialSoc"] == 0.3
    assert starts["initialTemperature"] == 280.0
