"""The electrochemical cell twin (PyBaMM SPM/SPMe/DFN behind a CellECMTwin-style step).

* Against PyBaMM directly: the twin stepped over US06 at 1 s equals one PyBaMM solve of the
  same piecewise-constant current, written independently as a sum of Heaviside steps of time
  (``I0 + sum_k dI_k H(t - t_k)``) and solved in one call with the step times as IDAKLU stop
  times. The twin's output at ``t_k+1`` is the end of the interval, i.e. PyBaMM's left limit.
* Against measurement: Ecker2015 DFN vs the measured 1C discharge, as PyBaMM's
  ``compare-ecker-data`` example does it (current = 1 x nominal capacity, the parameter set's own
  initial concentrations, raw time axis of the data).
* Bad names, NaN inputs, the cut-off reported as an error, state save/restore.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pybamm
import pytest

from fmutwin.data import data_dir, drive_cycle
from fmutwin.interface import InputError, StateError
from fmutwin.twins.cell_echem import OUTPUT_NAMES, CellEchemTwin, LimitReached

US06_SOC = 0.7  # Chen2020 from 100 % SOC meets the 4.2 V cut-off in the US06 regen pulses


def _heaviside_current(time_s: np.ndarray, current_A: np.ndarray):
    """A PyBaMM current function of t, piecewise constant: current_A[k] on (time_s[k], time_s[k+1]]."""
    jumps = [(float(tk), float(d)) for tk, d in zip(time_s[1:-1], np.diff(current_A[:-1])) if d != 0.0]

    def current(t):
        terms = [float(current_A[0]) + 0 * t] + [d * (t > tk) for tk, d in jumps]
        while len(terms) > 1:  # balanced sum: a shallow expression tree
            terms = [terms[j] + terms[j + 1] if j + 1 < len(terms) else terms[j] for j in range(0, len(terms), 2)]
        return terms[0]

    return current


def _pybamm_reference(model_name: str, time_s: np.ndarray, current_A: np.ndarray,
                      initial_soc: float) -> dict[str, np.ndarray]:
    """Voltage and current at the end of every interval from one PyBaMM solve."""
    model = getattr(pybamm.lithium_ion, model_name)()
    values = pybamm.ParameterValues("Chen2020")
    values.update({"Current function [A]": _heaviside_current(time_s, current_A)})
    sim = pybamm.Simulation(model, parameter_values=values, solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-8))
    sol = sim.solve(t_eval=time_s, t_interp=time_s, initial_soc=initial_soc)
    assert sol.termination == "final time"
    left = time_s[1:] - 1e-7  # left limits: the end of each constant-current interval
    return {"voltage_V": sol["Voltage [V]"](left), "current_A": sol["Current [A]"](left)}


#: measured agreement of the stepped twin with one PyBaMM solve over US06 (RMS, max) [mV], both
#: solved by IDAKLU at rtol 1e-6, atol 1e-8: SPMe 2.7e-5 / 3.1e-4, DFN 1.24e-4 / 6.8e-4 (pybamm 26.10);
#: the tolerances are about 4x that
US06_TOLERANCE_MV = {"SPMe": (1e-4, 1.5e-3), "DFN": (5e-4, 3e-3)}


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["SPMe", "DFN"])
def test_us06_equals_one_pybamm_solve(model_name: str) -> None:
    t, i = drive_cycle("US06", scale=1.0)  # peaks 8.1 A: 1.6C for the 5 Ah Chen2020 cell
    twin = CellEchemTwin(model=model_name, parameter_set="Chen2020", initial_soc=US06_SOC)
    out = twin.run(t, i)
    ref = _pybamm_reference(model_name, t, i, US06_SOC)
    np.testing.assert_allclose(out["current_A"], i[:-1], atol=1e-12)
    np.testing.assert_allclose(ref["current_A"], i[:-1], atol=1e-9)
    np.testing.assert_allclose(out["time_s"], t[1:], atol=1e-9)
    err = out["voltage_V"] - ref["voltage_V"]
    rms_mV = float(np.sqrt(np.mean(err ** 2)) * 1e3)
    max_mV = float(np.max(np.abs(err)) * 1e3)
    print(f"{model_name} US06 twin vs one PyBaMM solve: RMS {rms_mV:.3g} mV, max {max_mV:.3g} mV")
    rms_tol, max_tol = US06_TOLERANCE_MV[model_name]
    assert rms_mV < rms_tol and max_mV < max_tol
    assert np.all(np.diff(out["soc"]) * np.sign(i[:-1][1:]) <= 1e-12)  # discharge lowers SOC


@pytest.mark.slow
def test_ecker2015_dfn_against_measured_1c_discharge() -> None:
    data = np.loadtxt(data_dir() / "measured" / "Ecker2015_1C_discharge.csv", delimiter=",", comments="#")
    twin = CellEchemTwin(model="DFN", parameter_set="Ecker2015", initial_soc=None)
    current_A = 1.0 * twin.nominal_capacity_Ah  # 1C, as in PyBaMM's compare-ecker-data example
    t_model, v_model = [], []
    with pytest.raises(LimitReached) as info:
        while twin.time_s < 2 * 3600:
            out = twin.step(current_A, 10.0)
            t_model.append(out["time_s"][0])
            v_model.append(out["voltage_V"][0])
    assert info.value.event == "Minimum voltage [V]"
    t_model_a, v_model_a = np.array(t_model), np.array(v_model)
    measured = (data[:, 0] >= t_model_a[0]) & (data[:, 0] <= t_model_a[-1])
    assert measured.sum() >= len(data) - 1  # the model covers the measured range
    err = np.interp(data[measured, 0], t_model_a, v_model_a) - data[measured, 1]
    rms_mV = float(np.sqrt(np.mean(err ** 2)) * 1e3)
    print(f"Ecker2015 DFN vs measured 1C discharge: RMS {rms_mV:.1f} mV over {measured.sum()} points "
          f"(cut-off at t = {info.value.time_s:.0f} s, data end {data[-1, 0]:.0f} s)")
    assert rms_mV < 45.0


def test_unknown_model_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="SPM, SPMe, DFN"):
        CellEchemTwin(model="P2D")


def test_unknown_parameter_set_lists_valid_ones() -> None:
    with pytest.raises(ValueError) as info:
        CellEchemTwin(parameter_set="Chen2021")
    for name in ("Chen2020", "Ecker2015", "Marquis2019"):
        assert name in str(info.value)


def test_unknown_thermal_model() -> None:
    with pytest.raises(ValueError, match="isothermal, lumped"):
        CellEchemTwin(thermal="3D")


def test_bpx_file_failing_validation_names_the_field(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Header": {"BPX": "1.0.0", "Model": "DFN", "Title": "incomplete"},
                               "Parameterisation": {"Cell": {"Nominal cell capacity [A.h]": 5.0}}}))
    with pytest.raises(ValueError, match="failed validation") as info:
        CellEchemTwin(bpx_file=bad)
    assert "Negative electrode" in str(info.value)
    with pytest.raises(ValueError, match="does not exist"):
        CellEchemTwin(bpx_file=tmp_path / "missing.json")


@pytest.fixture(scope="module")
def spm() -> CellEchemTwin:
    return CellEchemTwin(model="SPM", initial_soc=0.8)


@pytest.mark.parametrize("kwargs", [{"current_A": float("nan")}, {"current_A": float("inf")},
                                    {"dt_s": float("nan")}, {"dt_s": 0.0},
                                    {"ambient_temperature_K": float("nan")}, {"ambient_temperature_K": -1.0},
                                    {"heat_flow_W": float("-inf")}])
def test_bad_input_raises_input_error_and_keeps_the_state(spm: CellEchemTwin, kwargs: dict) -> None:
    before = spm.get_state()
    args = {"current_A": 1.0, "dt_s": 1.0, **kwargs}
    with pytest.raises(InputError):
        spm.step(**args)
    after = spm.get_state()
    assert after["time_s"] == before["time_s"] and np.array_equal(after["y"], before["y"])


def test_outputs(spm: CellEchemTwin) -> None:
    t0 = spm.time_s
    first = spm.step(0.0, 1.0)
    out = spm.step(5.0, 36.0)
    assert set(out) == set(OUTPUT_NAMES)
    assert out["time_s"][0] == pytest.approx(t0 + 37.0)
    # two states of charge of one remaining charge: over the electrode-SOH window and over the nominal capacity
    assert out["soc"][0] == pytest.approx(first["soc"][0] - 5.0 * 36.0 / 3600 / spm.window_capacity_Ah, abs=1e-12)
    assert out["soc_nominal"][0] == pytest.approx(out["soc"][0] * spm.window_capacity_Ah / spm.nominal_capacity_Ah,
                                                  abs=1e-12)
    assert 0 < out["negative_surface_stoichiometry"][0] < 1 and 0 < out["positive_surface_stoichiometry"][0] < 1
    assert out["heat_generation_W"][0] > 0  # reported also by the isothermal cell
    assert out["temperature_K"][0] == pytest.approx(298.15)
    assert out["negative_electrode_potential_vs_li_V"][0] > 0  # discharge: no plating


def test_soc_counts_the_window_pybamm_initial_soc_counts() -> None:
    """Discharging 10 % of the electrode-SOH window from SOC 0.8 and resting gives the cell PyBaMM
    builds at initial_soc 0.7 (same rested voltage), and soc says 0.7; counting against the
    nominal 5 Ah instead would be 3 mV off (measured: 4e-13 V vs 3.06 mV)."""
    twin = CellEchemTwin(model="SPM", initial_soc=0.8)
    assert twin.window_capacity_Ah == pytest.approx(5.1532, abs=1e-4) and twin.nominal_capacity_Ah == 5.0
    duration_s = 0.1 * twin.window_capacity_Ah / 0.5 * 3600  # 0.5 A (0.1C)
    for _ in range(int(duration_s // 60)):
        twin.step(0.5, 60.0)
    out = twin.step(0.5, duration_s % 60)
    assert out["soc"][0] == pytest.approx(0.7, abs=1e-12)
    for _ in range(12):
        rested = twin.step(0.0, 600.0)
    built = CellEchemTwin(model="SPM", initial_soc=0.7).step(0.0, 1.0)
    assert abs(rested["voltage_V"][0] - built["voltage_V"][0]) < 1e-9


def test_initial_soc_none_is_the_soc_of_the_parameter_sets_concentrations() -> None:
    """initial_soc=None keeps Chen2020's own initial concentrations; the SOC the twin reports for
    them, given back to PyBaMM as initial_soc, builds the same cell (same voltage)."""
    own = CellEchemTwin(model="SPM", initial_soc=None)
    assert 0.9 < own.initial_soc < 1.0
    again = CellEchemTwin(model="SPM", initial_soc=own.initial_soc)
    a, b = own.step(1.0, 10.0), again.step(1.0, 10.0)
    assert abs(a["voltage_V"][0] - b["voltage_V"][0]) < 1e-9 and a["soc"][0] == pytest.approx(b["soc"][0], abs=1e-12)


def test_initial_soc_none_that_cannot_be_computed_raises() -> None:
    with pytest.raises(ValueError, match="electrode SOH"):
        CellEchemTwin(model="SPM", initial_soc=None,
                      parameter_overrides={"Initial concentration in negative electrode [mol.m-3]": 1e9})


def test_contact_resistance_given_is_used() -> None:
    """A contact resistance in the overrides switches PyBaMM's option on: at the same current the
    voltage is lower by exactly I R (the electrochemistry is unchanged at a given current)."""
    plain = CellEchemTwin(model="SPMe", initial_soc=0.5)
    with_r = CellEchemTwin(model="SPMe", initial_soc=0.5, parameter_overrides={"Contact resistance [Ohm]": 0.05})
    assert with_r.model_options["contact resistance"] == "true"
    for _ in range(3):
        a, b = plain.step(10.0, 10.0), with_r.step(10.0, 10.0)
        assert a["voltage_V"][0] - b["voltage_V"][0] == pytest.approx(10.0 * 0.05, abs=1e-12)  # measured: exact
    with pytest.raises(ValueError, match="contact resistance"):
        CellEchemTwin(model="SPMe", initial_soc=0.5, parameter_overrides={"Contact resistance [Ohm]": 0.05},
                      model_options={"contact resistance": "false"})


def test_lumped_heat_flow_and_ambient() -> None:
    twins = [CellEchemTwin(model="SPM", thermal="lumped", initial_soc=0.5) for _ in range(2)]
    a = twins[0].step(5.0, 60.0)
    b = twins[1].step(5.0, 60.0, heat_flow_W=20.0)
    assert b["temperature_K"][0] > a["temperature_K"][0] + 0.1
    warm = twins[0].step(0.0, 600.0, ambient_temperature_K=320.0)
    assert warm["temperature_K"][0] > a["temperature_K"][0] + 1.0


def test_heat_flow_input_equals_pybamms_lumped_model_with_a_warmer_ambient() -> None:
    """A heat flow q into the lumped cell is PyBaMM's own lumped energy balance with the ambient
    raised by q / (h A) (its cooling term is h A (T_amb - T), from the parameter set): same
    temperature and voltage at every step, under load (measured: identical)."""
    heated = CellEchemTwin(model="SPMe", thermal="lumped", initial_soc=0.7)
    shifted = CellEchemTwin(model="SPMe", thermal="lumped", initial_soc=0.7)
    values = heated.parameter_values
    h_a = float(values["Total heat transfer coefficient [W.m-2.K-1]"]) * float(values["Cell cooling surface area [m2]"])
    q = 2.0
    for _ in range(60):
        a = heated.step(5.0, 10.0, 298.15, q)
        b = shifted.step(5.0, 10.0, 298.15 + q / h_a, 0.0)
        assert abs(a["temperature_K"][0] - b["temperature_K"][0]) < 1e-9
        assert abs(a["voltage_V"][0] - b["voltage_V"][0]) < 1e-9
    assert a["temperature_K"][0] > 298.15 + 20.0  # the heat flow matters: 2 W warms the cell ~25 K in 10 min


def test_plating_indicator_negative_when_fast_charging_cold() -> None:
    twin = CellEchemTwin(model="SPMe", initial_soc=0.2, ambient_temperature_K=268.15)
    out = twin.step(-10.0, 20.0)  # 2C charge at -5 degC
    assert out["negative_electrode_potential_vs_li_V"][0] < 0.0


def test_cutoff_is_an_error_not_a_frozen_output() -> None:
    twin = CellEchemTwin(model="SPMe", initial_soc=0.3)
    with pytest.raises(LimitReached, match="lower voltage cut-off") as info:
        for _ in range(1000):
            twin.step(20.0, 10.0)
    assert info.value.event == "Minimum voltage [V]"
    assert isinstance(info.value, StateError)
    t_fail = twin.time_s
    assert t_fail < info.value.time_s <= t_fail + 10.0
    assert info.value.outputs["voltage_V"][0] == pytest.approx(2.5, abs=1e-3)
    # the same step again fails again (never a frozen, silently returned solution) ...
    with pytest.raises(LimitReached):
        twin.step(20.0, 10.0)
    # ... and other inputs still act: a rest advances time and relaxes the voltage
    rest = twin.step(0.0, 10.0)
    assert rest["time_s"][0] == pytest.approx(t_fail + 10.0)
    assert rest["current_A"][0] == 0.0 and rest["voltage_V"][0] > 2.5


def test_charge_into_upper_cutoff_is_reported() -> None:
    twin = CellEchemTwin(model="SPM", initial_soc=1.0)
    with pytest.raises(LimitReached, match="upper voltage cut-off"):
        twin.step(-5.0, 60.0)
    assert twin.time_s == 0.0


@pytest.mark.parametrize("thermal", ["isothermal", "lumped"])
def test_state_restore_equals_uninterrupted_run(thermal: str) -> None:
    t, i = drive_cycle("US06", scale=1.0)
    twin = CellEchemTwin(model="SPMe", thermal=thermal, initial_soc=US06_SOC)
    twin.run(t[:101], i[:101], heat_flow_W=1.0)
    state = pickle.loads(pickle.dumps(twin.get_state()))
    first = twin.run(t[100:201], i[100:201], heat_flow_W=1.0)
    twin.set_state(state)
    assert twin.time_s == 100.0
    again = twin.run(t[100:201], i[100:201], heat_flow_W=1.0)
    other = CellEchemTwin(model="SPMe", thermal=thermal, initial_soc=US06_SOC)
    other.set_state(state)
    third = other.run(t[100:201], i[100:201], heat_flow_W=1.0)
    for name in OUTPUT_NAMES:
        np.testing.assert_allclose(again[name], first[name], rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(third[name], first[name], rtol=0, atol=1e-12, err_msg=name)


def test_state_of_another_model_is_rejected() -> None:
    spm = CellEchemTwin(model="SPM", initial_soc=0.5)
    dfn_state = {"time_s": 1.0, "y": np.zeros(7), "outputs": {}}
    with pytest.raises(ValueError, match="state vector"):
        spm.set_state(dfn_state)


@pytest.mark.parametrize(("model_name", "thermal"), [("SPMe", "isothermal"), ("DFN", "isothermal"),
                                                     ("SPM", "lumped")])
def test_direct_idaklu_step_is_pybamm_step_bit_for_bit(model_name: str, thermal: str) -> None:
    """The twin's direct IDAKLU path (``cell_echem._DirectIdakluStep``, which relies on PyBaMM
    internals) is in use and gives exactly what PyBaMM's ``IDAKLUSolver.step`` gives. If a PyBaMM
    release changes those internals this fails (the twin itself falls back to PyBaMM's path)."""
    t, i = drive_cycle("US06", scale=1.0)
    n = 121
    direct = CellEchemTwin(model=model_name, thermal=thermal, initial_soc=US06_SOC)
    reference = CellEchemTwin(model=model_name, thermal=thermal, initial_soc=US06_SOC)
    reference._direct_verified = False  # every step through IDAKLUSolver.step, as before the direct path
    ambient = np.linspace(290.0, 305.0, n)
    heat = np.linspace(-2.0, 3.0, n)
    for k in range(n - 1):
        a = direct.step(i[k], t[k + 1] - t[k], ambient[k], heat[k])
        b = reference.step(i[k], t[k + 1] - t[k], ambient[k], heat[k])
        for name in OUTPUT_NAMES:
            assert np.array_equal(a[name], b[name]), (k, name, a[name], b[name])
    assert direct.direct_stepping and not reference.direct_stepping
    sa, sb = direct.get_state(), reference.get_state()
    assert sa["time_s"] == sb["time_s"] and np.array_equal(sa["y"], sb["y"]) and sa["inputs"] == sb["inputs"]
    # a restored state continues on the direct path, bit-identical to PyBaMM's path from the same state
    again = CellEchemTwin(model=model_name, thermal=thermal, initial_soc=US06_SOC)
    again.step(0.0, 1.0)
    again.step(0.0, 1.0)  # the second step checks the direct path against PyBaMM's
    assert again.direct_stepping
    again.set_state(sa)
    reference.set_state(sa)
    for k in range(10):
        a, b = again.step(5.0 - k, 2.0), reference.step(5.0 - k, 2.0)
        assert all(np.array_equal(a[name], b[name]) for name in OUTPUT_NAMES), k


def test_direct_path_hands_limits_to_pybamm() -> None:
    """A direct step that ends at an event is redone by PyBaMM: LimitReached, state kept, direct path kept."""
    twin = CellEchemTwin(model="SPMe", initial_soc=0.3)
    reference = CellEchemTwin(model="SPMe", initial_soc=0.3)
    reference._direct_verified = False
    errors = []
    for tw in (twin, reference):
        with pytest.raises(LimitReached) as info:
            for _ in range(1000):
                tw.step(20.0, 10.0)
        errors.append(info.value)
    assert twin.direct_stepping
    assert str(errors[0]) == str(errors[1]) and errors[0].time_s == errors[1].time_s
    assert all(np.array_equal(errors[0].outputs[k], errors[1].outputs[k]) for k in OUTPUT_NAMES)
    assert twin.time_s == reference.time_s < errors[0].time_s
    assert np.array_equal(twin.get_state()["y"], reference.get_state()["y"])
    rest = twin.step(0.0, 10.0)
    assert rest["time_s"][0] == reference.time_s + 10.0
