"""Native electrochemical FMUs: PyBaMM's SPMe and SPM generated as C (FMI 2.0 and 3.0), against
PyBaMM's own solve of the same model at tight tolerances, the Python CellEchem FMU, the C host
with an empty environment, libcosim and ecos; cut-offs, bad input, state restore, 8 instances,
run-time parameters, the lumped thermal model and the build record."""

from __future__ import annotations

import json
import subprocess
import zipfile

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from fmutwin.params.cell_echem import EchemCellParameters
from fmutwin.reduction.experiments import drive_cycle_profile
from fmutwin.registry import twin, twin_for_file
from fmutwin.twins.cell_echem import CellEchemTwin, LimitReached
from fmutwin.twins.cell_echem_interface import VARIABLES
from test_c_host import run_host, unzip_fmu, write_profile
from test_third_party_importers import _run_ecos, _run_libcosim

VERSIONS = [2, 3]
SOC0 = 0.7
#: native vs PyBaMM IDAKLU at rtol = atol = 1e-10, RMS and max [V]; measured (Radau IIA, 1 step):
#: US06 0.077 / 0.26 uV, WLTC x3C 0.116 / 0.49 uV, 2C to the cut-off 0.16 / 0.77 uV
RMS_V, MAX_V = 4e-7, 1.5e-6
DIFFUSIVITY = "Negative particle diffusivity [m2.s-1]"


def _file(tmp_path, **fields):
    path = tmp_path / f"{fields.get('name', 'cell')}.json"
    EchemCellParameters(**{"name": "cell", "initial_soc": SOC0, **fields}).save(path)
    return path


@pytest.fixture(scope="module")
def spme(tmp_path_factory):
    """The SPMe native FMUs (FMI 2.0 and 3.0) of a file starting at SOC 0.7, built as
    ``fmutwin build --parameters FILE --native`` builds them."""
    out = tmp_path_factory.mktemp("native_echem")
    entry = twin_for_file(_file(out))
    return {v: build_native(entry, out, v) for v in VERSIONS}


@pytest.fixture(scope="module")
def spm_lumped(tmp_path_factory):
    """SPM with PyBaMM's lumped thermal model and the negative diffusivity as a run-time
    parameter, FMI 3.0."""
    out = tmp_path_factory.mktemp("native_spm")
    path = _file(out, name="spm", model="SPM", thermal="lumped",
                 run_time_parameters=[{"pybamm_name": DIFFUSIVITY, "name": "negativeDiffusivity"}])
    return build_native(twin_for_file(path), out, 3)


def _reference(current, soc0=SOC0, model="SPMe", **kwargs):
    """PyBaMM's own solve (IDAKLU, rtol = atol = 1e-10), one 1 s step per current, to the first
    cut-off: (outputs by step, the event time or None)."""
    cell = CellEchemTwin(model=model, initial_soc=soc0, rtol=1e-10, atol=1e-10, **kwargs)
    rows = []
    for value in current:
        try:
            rows.append(cell.step(current_A=float(value), dt_s=1.0))
        except LimitReached as exc:
            return {k: np.array([r[k][0] for r in rows]) for k in rows[0]}, exc.time_s
    return {k: np.array([r[k][0] for r in rows]) for k in rows[0]}, None


def _native_run(host, current, names=("batteryVoltage",)):
    """Steps of 1 s until the FMU refuses one: (outputs, index of the refused step or None)."""
    out = []
    for k, value in enumerate(current):
        host.set(current=float(value))
        try:
            host.step(1.0)
        except FMICallException:
            return np.array(out), k
        out.append(host.get(*names))
    return np.array(out), None


def _errors_V(got, ref):
    e = np.asarray(got) - np.asarray(ref)
    return float(np.sqrt(np.mean(e ** 2))), float(np.max(np.abs(e)))


@pytest.mark.parametrize("version", VERSIONS)
def test_native_echem_fmu_is_conformant_and_needs_no_python(spme, version, tmp_path):
    fmu = spme[version]
    assert check_fmu(fmu) == []
    binary = unzip_fmu(fmu, tmp_path / "fmu") / ("binaries/linux64" if version == 2 else "binaries/x86_64-linux")
    needed = subprocess.run(["ldd", str(binary / "CellEchemNative.so")], capture_output=True, text=True).stdout
    assert "python" not in needed and "sundials" not in needed and "casadi" not in needed, needed


@pytest.mark.slow
@pytest.mark.parametrize("cycle", ["US06", "WLTCx3C"])
def test_native_spme_follows_pybamm_over_drive_cycles(open_fmu, spme, cycle):
    if cycle == "US06":
        current = drive_cycle("US06")[1][:600]
    else:  # the WLTC-derived current peaking at 3C (15 A), regen to about -1.7C
        current = drive_cycle_profile("WLTC", 5.0, SOC0, peak_c_rate=3.0).current_A[:900]
    ref, event = _reference(current)
    assert event is None
    for version in VERSIONS:
        host = open_fmu(spme[version], instance=f"v{version}")
        host.initialize()
        got, refused = _native_run(host, current)
        assert refused is None, host.logs
        rms, worst = _errors_V(got[:, 0], ref["voltage_V"])
        print(f"{cycle} FMI {version}: {rms * 1e6:.3f} uV RMS, {worst * 1e6:.3f} uV max")
        assert rms < RMS_V and worst < MAX_V


@pytest.mark.slow
def test_native_spme_at_2c_finds_the_cut_off_step_and_time(open_fmu, spme):
    current = np.full(2000, 10.0)  # 2C of the 5 Ah cell from SOC 0.7
    ref, event = _reference(current)
    assert event is not None
    host = open_fmu(spme[3])
    host.initialize()
    got, refused = _native_run(host, current, ("batteryVoltage", "stateOfCharge"))
    assert refused == int(event)  # the step that crossed 2.5 V, as in PyBaMM
    rms, worst = _errors_V(got[:, 0], ref["voltage_V"])
    print(f"2C: {rms * 1e6:.3f} uV RMS, {worst * 1e6:.3f} uV max; located {host.logs[-1][1]}, PyBaMM {event}")
    assert rms < RMS_V and worst < MAX_V
    np.testing.assert_allclose(got[:, 1], ref["soc"], rtol=0, atol=1e-9)
    message = host.logs[-1][1]
    assert host.logs[-1][0] == 2 and "output batteryVoltage" in message and "limit 2.5 V" in message, host.logs
    located = float(message.split("reached at t = ")[1].split(" s")[0])
    assert abs(located - event) < 1e-4, (located, event)  # measured 6e-7 s (bisection to 1e-6 of the step)


def test_after_the_cut_off_a_restored_state_rests_and_recovers(open_fmu, spme):
    host = open_fmu(spme[2])
    host.initialize(initialSoc=0.02)
    state = None
    host.set(current=10.0)
    with pytest.raises(FMICallException, match="status 2"):  # fmi2Discard
        for _ in range(400):
            state = host.fmu.getFMUState()
            host.step(1.0)
    refused_at = host.time
    assert host.get("batteryVoltage")[0] >= 2.5
    host.fmu.setFMUState(state)
    host.time = refused_at
    host.set(current=0.0)
    for _ in range(60):  # a rest after the cut-off: the voltage relaxes upwards
        host.step(1.0)
    assert host.get("batteryVoltage")[0] > 2.6


@pytest.mark.slow
def test_native_equals_the_python_cell_echem_fmu(open_fmu, spme, tmp_path):
    """The Python FMU at its default IDAKLU tolerances (rtol 1e-6) and the native FMU, same
    declared names, over the first 300 s of US06."""
    python_fmu = build_python_fmu(twin("cell_echem"), 3, tmp_path)
    current = drive_cycle("US06")[1][:300]
    names = ("batteryVoltage", "stateOfCharge", "negativeSurfaceStoichiometry", "heatGenerationRate")
    runs = {}
    for label, fmu in (("python", python_fmu), ("native", spme[3])):
        host = open_fmu(fmu, instance=label)
        host.initialize(initialSoc=SOC0)
        runs[label], refused = _native_run(host, current, names)
        assert refused is None
    rms, worst = _errors_V(runs["native"][:, 0], runs["python"][:, 0])
    print(f"native vs Python FMU: {rms * 1e6:.2f} uV RMS, {worst * 1e6:.2f} uV max")
    assert rms < 3e-7 and worst < 1e-6  # measured 0.10 / 0.37 uV: the Python FMU's tolerance dominates
    gaps = np.max(np.abs(runs["native"] - runs["python"]), axis=0)
    print("max differences", dict(zip(names, gaps)))
    assert gaps[1] < 1e-12 and gaps[2] < 1.2e-6 and gaps[3] < 1.5e-6, gaps  # measured 6e-16, 4.2e-7, 4.9e-7


def test_native_echem_in_the_c_host_with_an_empty_environment(fmu_host, open_fmu, spme, tmp_path):
    time_s, current = drive_cycle("US06")
    time_s, current = time_s[:301], current[:301]
    fmu_dir = unzip_fmu(spme[2], tmp_path / "fmu")
    profile = write_profile(tmp_path / "us06.csv", time_s, current)
    result = run_host(fmu_host, fmu_dir, profile, tmp_path / "out.csv", {"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    data = np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1, ndmin=2)
    host = open_fmu(spme[2])
    host.initialize()
    got, _ = _native_run(host, current[:300], ("batteryVoltage", "stateOfCharge"))
    np.testing.assert_array_equal(data[:, 1:3], got)  # the same binary: bit for bit


def test_native_echem_in_libcosim_and_ecos(open_fmu, spme, tmp_path):
    current = drive_cycle("US06")[1][:121]
    host = open_fmu(spme[2])
    host.initialize()
    ref, _ = _native_run(host, current[:-1], ("batteryVoltage", "stateOfCharge"))
    runs = {"libcosim": _run_libcosim("local_slave", spme[2], tmp_path, current),
            "ecos FMI 2": _run_ecos(spme[2], current), "ecos FMI 3": _run_ecos(spme[3], current)}
    for name, got in runs.items():
        np.testing.assert_array_equal(got["batteryCurrent"], current[:-1], err_msg=name)
        np.testing.assert_allclose(got["batteryVoltage"], ref[:, 0], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(got["stateOfCharge"], ref[:, 1], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name, value, expect", [
    ("current", float("nan"), "input current = nan is not finite"),
    ("ambientTemperature", 50.0, "input ambientTemperature = 50 K is outside its range [100, 2000]"),
])
def test_native_echem_bad_input_is_an_error_and_keeps_the_state(open_fmu, spme, name, value, expect):
    host = open_fmu(spme[3])
    host.initialize()
    host.set(current=5.0)
    host.step(1.0)
    before = host.get("batteryVoltage")
    host.set(**{name: value})
    with pytest.raises(FMICallException, match="status 3"):
        host.step(1.0)
    assert len(host.errors()) == 1 and expect in host.errors()[0], host.logs
    assert host.get("batteryVoltage") == before


def test_native_echem_bad_parameter_is_refused(open_fmu, spme):
    host = open_fmu(spme[2])
    with pytest.raises(FMICallException):
        host.set(initialSoc=1.5)
    assert "parameter initialSoc = 1.5 is outside its range [0, 1]" in host.errors()[0]


def test_native_echem_state_restore_is_bit_identical(open_fmu, spme):
    current = drive_cycle("US06")[1]
    for version in VERSIONS:
        host = open_fmu(spme[version], instance=f"v{version}")
        host.initialize()
        first, *again = host.runs_after_restore(current, 100, 200, ("batteryVoltage", "stateOfCharge",
                                                                    "electrolyteConcentrationSeparator"))
        assert again == [first, first]


def test_eight_native_echem_instances_are_independent(open_fmu, spme):
    current = drive_cycle("US06")[1][:60]
    socs = np.linspace(0.3, 0.8, 8)
    shared = fmpy.extract(str(spme[3]))
    hosts = [open_fmu(spme[3], instance=f"n{i}", unzip_dir=shared) for i in range(8)]
    for h, soc in zip(hosts, socs):
        h.initialize(initialSoc=soc)
    together = np.zeros((8, len(current)))
    for k, value in enumerate(current):
        for i, h in enumerate(hosts):
            h.set(current=value * (1 + 0.1 * i))
            h.step(1.0)
            together[i, k] = h.get("batteryVoltage")[0]
    for i in (0, 7):  # each equals a run alone
        alone = open_fmu(spme[3], instance=f"alone{i}", unzip_dir=shared)
        alone.initialize(initialSoc=socs[i])
        got, _ = _native_run(alone, current * (1 + 0.1 * i))
        np.testing.assert_array_equal(got[:, 0], together[i])
    assert np.ptp(together[:, -1]) > 0.05


@pytest.mark.slow
def test_lumped_spm_with_a_run_time_diffusivity_follows_pybamm(open_fmu, spm_lumped):
    """The negative diffusivity set at run time to 0.5x the parameter set's, a 2C discharge with
    an external heat flow: voltage and temperature against PyBaMM's lumped SPM with that value."""
    md = fmpy.read_model_description(str(spm_lumped))
    var = next(v for v in md.modelVariables if v.name == "negativeDiffusivity")
    assert var.causality == "parameter" and var.unit == "m2.s-1"
    default = float(var.start)
    current = np.full(900, 10.0)
    cell = CellEchemTwin(model="SPM", thermal="lumped", initial_soc=SOC0, rtol=1e-10, atol=1e-10,
                         parameter_overrides={DIFFUSIVITY: 0.5 * default})
    ref = [cell.step(current_A=10.0, dt_s=1.0, heat_flow_W=2.0) for _ in current]
    host = open_fmu(spm_lumped)
    host.initialize(negativeDiffusivity=0.5 * default)
    host.set(heatFlow=2.0)
    got, refused = _native_run(host, current, ("batteryVoltage", "batteryTemperature"))
    assert refused is None
    rms, worst = _errors_V(got[:, 0], [r["voltage_V"][0] for r in ref])
    print(f"lumped SPM: {rms * 1e6:.3f} uV RMS, {worst * 1e6:.3f} uV max")
    assert rms < RMS_V and worst < MAX_V
    temperature = np.array([r["temperature_K"][0] for r in ref])
    assert temperature[-1] - temperature[0] > 1.0  # it heats: the thermal model is on
    gap_K = float(np.max(np.abs(got[:, 1] - temperature)))
    print(f"lumped SPM temperature: {gap_K:.2e} K max")
    assert gap_K < 1e-5  # measured 4.0e-6 K (one simplified-Newton iteration on the thermal coupling)
    halved = open_fmu(spm_lumped, instance="default")
    halved.initialize()
    halved.set(heatFlow=2.0)
    at_default, _ = _native_run(halved, current[:300])
    assert np.max(np.abs(at_default[:, 0] - got[:300, 0])) > 1e-3  # the parameter reaches the model


def test_native_echem_records_what_the_build_fixed(spme):
    with zipfile.ZipFile(spme[3]) as archive:
        record = json.loads(archive.read("resources/cell_echem_parameters.json"))["provenance"]
        xml = archive.read("modelDescription.xml").decode()
    source = record["source_model"]
    assert source["model"] == "SPMe" and source["parameter_set"] == "Chen2020"
    assert source["pybamm_version"] and len(source["parameter_values_sha256"]) == 64
    assert source["var_pts"]["r_n"] == 20 and source["step"]["scheme"] == "radau5"
    assert source["options"]["thermal"] == "isothermal"
    assert "pybamm SPMe Chen2020" in xml


def test_native_voltage_limits_are_the_parameter_sets_cut_offs(spme):
    md = fmpy.read_model_description(str(spme[2]))
    voltage = next(v for v in md.modelVariables if v.name == "batteryVoltage")
    assert (float(voltage.min), float(voltage.max)) == (2.5, 4.2)
    names = {v.name for v in md.modelVariables}
    swapped = {v.name for v in VARIABLES if v.type != "String"}
    assert swapped <= names  # every numeric variable of the Python FMU, so one swaps for the other


@pytest.mark.slow
def test_native_spme_from_a_bpx_file_follows_pybamm(open_fmu, tmp_path):
    """A BPX file (Chen2020 written as BPX, tabulated OCPs: PyBaMM interpolants in the generated
    code), 1C for 300 s, against PyBaMM's own solve of the same file; the record names the file."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "twins"))
    from bpx_cell import write_chen2020_bpx

    bpx = write_chen2020_bpx(tmp_path / "chen2020.bpx.json", model="SPMe")
    fmu = build_native(twin_for_file(_file(tmp_path, name="bpx_cell", bpx_file=str(bpx))), tmp_path, 2)
    current = np.full(300, 5.0)
    ref, _ = _reference(current, bpx_file=str(bpx))
    host = open_fmu(fmu)
    host.initialize()
    got, refused = _native_run(host, current)
    assert refused is None
    rms, worst = _errors_V(got[:, 0], ref["voltage_V"])
    print(f"BPX SPMe: {rms * 1e6:.3f} uV RMS, {worst * 1e6:.3f} uV max")
    assert rms < 3e-7 and worst < 5e-7  # measured 0.067 / 0.144 uV
    with zipfile.ZipFile(fmu) as archive:
        source = json.loads(archive.read("resources/cell_echem_parameters.json"))["provenance"]["source_model"]
    assert source["bpx_file"]["sha256"] and source["parameter_set"] is None
