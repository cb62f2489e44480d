"""Reduction inputs: bad configurations name the field; BPX sources are recorded and checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fmutwin import provenance
from fmutwin.params import ParameterError
from fmutwin.reduction.experiments import EchemSource, drive_cycle_profile, hppc_profile
from fmutwin.reduction.pipeline import ReductionConfig, assemble, reduce, run_experiments


def test_bad_config_fields_are_named(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"modle": "DFN"}))
    with pytest.raises(ParameterError, match="unknown key 'modle'; did you mean 'model'"):
        ReductionConfig.load(path)
    path.write_text(json.dumps({"temperatures_K": [298.15, 288.15], "n_rc": 4,
                                "validation_cycles": [{"cycle": "FTP75", "initial_soc": 0.5}]}))
    with pytest.raises(ParameterError) as err:
        ReductionConfig.load(path)
    text = str(err.value)
    for field in ("temperatures_K", "n_rc", "validation_cycles.0.cycle"):
        assert field in text, text
    run = subprocess.run([sys.executable, "-m", "fmutwin.cli", "reduce", str(path), "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "n_rc" in run.stderr
    path.write_text("{not json")
    with pytest.raises(ParameterError, match="not valid JSON"):
        ReductionConfig.load(path)


def test_unknown_parameter_set_and_override_list_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="parameter_set: unknown PyBaMM parameter set 'Chen2021'.*Chen2020"):
        EchemSource(parameter_set="Chen2021").parameter_values()
    with pytest.raises(ValueError, match="did you mean 'Nominal cell capacity \\[A.h\\]'"):
        EchemSource(parameter_overrides={"Nominal cell capacity [Ah]": 5.0}).parameter_values()


def test_profiles_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="soc_levels"):
        hppc_profile(5.0, (0.5, 1.2))
    with pytest.raises(ValueError, match="unknown drive cycle 'FTP75'"):
        drive_cycle_profile("FTP75", 5.0, 0.5)


def test_experiment_limit_names_the_experiment() -> None:
    """A profile that drives the model past its cut-off stops with the experiment and the limit named."""
    from fmutwin.reduction.experiments import Profile
    from fmutwin.twins.cell_echem import LimitReached

    source = EchemSource(model="SPM", var_pts={"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8})
    deep = Profile("deep", "pulses", [0.0, 600.0, 1200.0], [15.0, 15.0], 0.2)
    with pytest.raises(LimitReached, match="experiment deep at 298.15 K: lower voltage cut-off"):
        run_experiments(source, [deep], [298.15, 308.15], workers=2)


def test_bpx_source_is_recorded_and_a_changed_bpx_file_is_stale(tmp_path: Path) -> None:
    from twins.bpx_cell import write_chen2020_bpx

    bpx = write_chen2020_bpx(tmp_path / "cell.bpx.json")
    source = EchemSource(model="SPMe", bpx_file=str(bpx))
    record = source.record()
    assert record["bpx_file"]["sha256"] == provenance.file_sha256(bpx) and record["parameter_set"] is None
    import numpy as np

    soc = np.array([0.0, 0.5, 1.0])
    ocv = np.array([[3.0], [3.7], [4.2]])
    from fmutwin.reduction.ecm_fit import TemperatureFit

    fit = TemperatureFit(298.15, soc, np.full(3, 0.02), np.full((1, 3), 0.01), np.array([0.0, 1.0]),
                         np.full((1, 2), 20.0))
    params = assemble("bpx_cell", "test", 18000.0, soc, ocv, np.zeros_like(ocv), [fit],
                      {"mass_J_per_K": 40.0, "heat_transfer_W_per_K": 0.05})
    params = provenance.attach(params, {"source_model": record})
    assert {f.status for f in provenance.check(params)} == {"ok"}
    doc = json.loads(bpx.read_text())
    doc["Header"]["Title"] = "edited"
    bpx.write_text(json.dumps(doc))
    stale = [f for f in provenance.check(params) if f.status == "stale"]
    assert len(stale) == 1 and "cell.bpx.json" in stale[0].what


def test_calibrated_values_drive_the_experiments_and_are_recorded() -> None:
    """Step 1 on the measured Ecker2015 discharge, then the rest of the pipeline (SPM, one temperature).

    The held-out US06 trace must be what the electrochemical twin gives with the recorded factor
    applied by hand to PyBaMM's own diffusivity function, and differ from the uncalibrated model.
    """
    import numpy as np
    import pybamm

    from fmutwin.twins.cell_echem import CellEchemTwin

    config = ReductionConfig.model_validate({
        "name": "ecker_spm", "model": "SPM", "parameter_set": "Ecker2015", "temperatures_K": [298.15],
        "calibration": {"parameters": {"Negative particle diffusivity scale factor": [1.0, 0.2, 5.0]},
                        "max_nfev": 10,  # a second test read as a CSV (the shared data has one measured test)
                        "validation": [{"file": "measured/Ecker2015_1C_discharge.csv", "current_A": 0.15625}]},
        "hppc_soc_levels": [0.8, 0.5, 0.2], "validation_cycles": [{"cycle": "US06", "initial_soc": 0.6}],
        "workers": 1})
    result = reduce(config)
    record = result.params.provenance["calibration"]
    factor = record["fitted"]["Negative particle diffusivity scale factor"]
    assert record["residuals"]["fit"]["rms_V"] < record["residuals"]["initial"]["rms_V"]
    assert [v["data"]["name"] for v in record["validation"]] == [
        "Ecker2015_1C_discharge (held-out part)", "Ecker2015_1C_discharge"]
    assert record["data"]["file"]["sha256"] == provenance.file_sha256(record["data"]["file"]["path"])
    assert {f.status for f in provenance.check(result.params)} == {"ok"}
    trace = next(t for t in result.traces if t.profile.name == "US06@0.6")
    original = pybamm.ParameterValues("Ecker2015")["Negative particle diffusivity [m2.s-1]"]

    def by_hand(*args):
        return factor * original(*args)

    def run(overrides):
        twin = CellEchemTwin("SPM", "Ecker2015", initial_soc=0.6, parameter_overrides=overrides)
        return twin.run(trace.profile.time_s, trace.profile.current_A)["voltage_V"]

    np.testing.assert_allclose(trace.voltage_V, run({"Negative particle diffusivity [m2.s-1]": by_hand}),
                               rtol=0, atol=1e-9)
    assert np.max(np.abs(trace.voltage_V - run({}))) > 1e-5  # 10^4 times the agreement above


def test_model_options_reach_the_experiments() -> None:
    """A contact resistance (a PyBaMM model option) shifts the simulated voltage by exactly I R."""
    import numpy as np

    from fmutwin.reduction.experiments import Profile, simulate

    mesh = {"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8}
    profile = Profile("steps", "pulses", np.arange(0.0, 31.0), np.r_[np.full(10, 5.0), np.zeros(10), np.full(10, -2.5)],
                      0.6)
    plain = simulate(EchemSource(model="SPM", var_pts=mesh), profile, 298.15)
    with_r = simulate(EchemSource(model="SPM", var_pts=mesh, model_options={"contact resistance": "true"},
                                  parameter_overrides={"Contact resistance [Ohm]": 0.01}), profile, 298.15)
    np.testing.assert_allclose(plain.voltage_V - with_r.voltage_V, 0.01 * profile.current_A, rtol=0, atol=1e-6)
    assert EchemSource(model_options={"contact resistance": "true"}).record()["options"]["contact resistance"] == "true"
    with pytest.raises(ValueError, match="model_options"):
        EchemSource(model="SPM", model_options={"thermal": "lumped"}).twin(0.5, 298.15)


def test_calibrated_contact_resistance_carries_its_model_option() -> None:
    config = ReductionConfig.model_validate({
        "name": "ecker_cr", "model": "SPM", "parameter_set": "Ecker2015", "temperatures_K": [298.15],
        "calibration": {"parameters": {"Contact resistance [Ohm]": [0.01, 0.0, 0.1]}, "max_nfev": 5},
        "hppc_soc_levels": [0.8, 0.5, 0.2], "validation_cycles": [{"cycle": "US06", "initial_soc": 0.6}],
        "workers": 1})
    record = reduce(config).params.provenance
    assert record["source_model"]["options"]["contact resistance"] == "true"
    assert record["calibration"]["model_options"] == {"contact resistance": "true"}
    fitted = record["calibration"]["fitted"]["Contact resistance [Ohm]"]
    assert record["source_model"]["parameter_overrides"]["Contact resistance [Ohm]"] == fitted


def test_held_out_cycles_must_not_be_fitted_or_repeated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="also fitted"):
        ReductionConfig(fit_cycles=[{"cycle": "UDDS", "initial_soc": 0.7}],
                        validation_cycles=[{"cycle": "UDDS", "initial_soc": 0.7}])
    with pytest.raises(ValidationError, match="twice"):
        ReductionConfig(validation_cycles=[{"cycle": "US06", "initial_soc": 0.8}] * 2)
    with pytest.raises(ValidationError, match="hppc_soc_levels"):
        ReductionConfig(hppc_soc_levels=[0.8, 0.5, 0.5])


def test_tables_over_temperature_put_each_fit_at_its_temperature() -> None:
    """Two temperature fits with different R0: the twin's instantaneous voltage drop at each
    ambient temperature is I R0 of that temperature (an analytic check of the assembly)."""
    import numpy as np

    from fmutwin.params.cell import Initial
    from fmutwin.reduction.ecm_fit import TemperatureFit
    from fmutwin.twins.cell_ecm import CellECMTwin

    soc = np.array([0.0, 0.5, 1.0])
    ocv = np.array([[3.0, 3.0], [3.7, 3.7], [4.2, 4.2]])
    fits = [TemperatureFit(t, soc, np.full(3, r0), np.full((1, 3), 1e-3), np.array([0.0, 1.0]), np.full((1, 2), 50.0))
            for t, r0 in ((288.15, 0.04), (308.15, 0.02))]
    params = assemble("two_t", "test", 18000.0, soc, ocv, np.zeros_like(ocv), fits,
                      {"mass_J_per_K": 40.0, "heat_transfer_W_per_K": 0.05})
    assert params.r0_ohm.temperature_K == [288.15, 308.15] and params.ocv_V.temperature_K is None
    for temp, r0 in ((288.15, 0.04), (308.15, 0.02), (298.15, 0.03)):
        run = params.with_changes(thermal=params.thermal.model_copy(update={"model": "constant"}),
                                  initial=Initial(soc=0.5, temperature_K=temp))
        rest = CellECMTwin(run).step(0.0, 1e-9, temp)["voltage_V"][0]
        loaded = CellECMTwin(run).step(5.0, 1e-9, temp)["voltage_V"][0]
        assert rest - loaded == pytest.approx(5.0 * r0, rel=1e-5)


def test_calibration_starts_from_the_users_overrides() -> None:
    """A scale factor multiplies the overridden value, not the parameter set's."""
    from fmutwin.reduction.calibrate import calibrate, ecker2015_1c_discharge

    name = "Negative electrode conductivity [S.m-1]"
    result = calibrate(model="SPM", parameter_set="Ecker2015", data=ecker2015_1c_discharge(),
                       parameters={"Negative electrode conductivity scale factor": (1.0, 0.5, 2.0)},
                       parameter_overrides={name: 7.0}, var_pts={"x_n": 5, "x_s": 5, "x_p": 5, "r_n": 8, "r_p": 8},
                       max_nfev=2)
    factor = result.values["Negative electrode conductivity scale factor"]
    assert result.parameter_overrides()[name] == pytest.approx(7.0 * factor, rel=1e-12)
    assert result.to_record()["parameter_overrides"] == {name: 7.0}


def test_a_constant_current_discharge_ends_at_the_cut_off_and_is_compared_over_95_percent() -> None:
    """SPM (Chen2020) at 2C from full, with the 0.2 V experiment margin: the trace keeps the steps
    before the first one that ends below the 2.5 V cut-off; the comparison window is the first
    95 % of the charge delivered."""
    import numpy as np

    from fmutwin.reduction.experiments import capacity_window, constant_current_profile, simulate

    source = EchemSource("SPM", "Chen2020", voltage_margin_V=0.2)
    profile = constant_current_profile(5.0, 2.0)
    trace = simulate(source, profile, 298.15)
    assert trace.profile.current_A.size == trace.voltage_V.size < profile.current_A.size
    assert trace.voltage_V.min() >= 2.5
    full = simulate(EchemSource("SPM", "Chen2020", voltage_margin_V=0.2), profile.head(trace.voltage_V.size + 1), 298.15)
    assert full.voltage_V.size == trace.voltage_V.size  # the next step ends below 2.5 V
    window = capacity_window(trace)
    delivered = np.cumsum(trace.profile.current_A * trace.profile.dt_s)
    assert delivered[window.voltage_V.size - 1] <= 0.95 * delivered[-1] < delivered[window.voltage_V.size]
    np.testing.assert_array_equal(window.voltage_V, trace.voltage_V[:window.voltage_V.size])
