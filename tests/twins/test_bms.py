"""The BMS twin's SoC estimation against a plant that is not its own model: a 4s2p module twin
(cells of the same file with 2 % capacity and 5 % R0 variation, interconnects, the exact current
split, a thermal network), measured with noise and a current gain error; the filter's Jacobians
against finite differences of the numpy cell step; start-up from the OCV; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.data import drive_cycle
from fmutwin.equations import bms_estimation as estimation
from fmutwin.interface import InputError
from fmutwin.ops import NUMPY
from fmutwin.params import default_cell_parameters
from fmutwin.params.bms import BmsParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.twins.bms import BmsTwin
from fmutwin.twins.module import ModuleTwin

NS, NP = 4, 2


def bms(cell=None, n_parallel=NP, **estimator) -> BmsTwin:
    cell = (cell or default_cell_parameters()).model_dump(mode="json", exclude_none=True)
    return BmsTwin(BmsParameters.from_dict({"name": "bms", "cell": cell, "n_series": NS, "n_parallel": n_parallel,
                                            "estimator": estimator}))


def hysteresis_cell():
    """The default cell with hysteresis: 10-30 mV, converging within 1/20 of a capacity, and 2-4 mV
    that switch with the current's sign (the instantaneous part: its jump at zero current leaves
    a parallel split with no solution, so plants of this cell have one cell per element)."""
    data = default_cell_parameters().model_dump(mode="json", exclude_none=True)
    data["hysteresis"] = {"rate": 20.0, "max_voltage_V": {"soc": [0.0, 0.5, 1.0], "values": [0.03, 0.01, 0.02]},
                          "instantaneous_voltage_V": {"soc": [0.0, 1.0], "values": [0.004, 0.002]}}
    from fmutwin.params.cell import CellParameters

    return CellParameters.from_dict(data)


def measured_plant(r0_scale: float | None = None, cell=None, n_parallel: int = NP) -> dict[str, np.ndarray]:
    """UDDS twice, peaking at 1C of the elements of ``n_parallel`` 100 Ah cells (default 2), from
    SOC 0.7; the measurements with 10 mV voltage noise, 50 mA current noise and a 0.5 % current
    gain error. ``r0_scale``: every cell's R0 that much larger (else 5 % variation); ``cell``: the
    plant's cell file (default: the shipped one)."""
    cell = cell or default_cell_parameters()
    _, i = drive_cycle("UDDS")
    current = np.tile(i, 2) * 100.0 * n_parallel / np.max(np.abs(i))
    time_s = np.arange(len(current) + 1.0)
    plant = ModuleTwin(ModuleParameters.from_dict({
        "name": "plant", "source": "test", "cell": cell.model_dump(mode="json", exclude_none=True),
        "n_series": NS, "n_parallel": n_parallel, "variation": {
            "capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 3},
            "r0_scale": {"kind": "normal", "spread": 0.05, "seed": 4} if r0_scale is None else [r0_scale] * NS * n_parallel,
            "initial_soc": [0.7] * NS * n_parallel}}))
    out = plant.run(time_s, current)
    rng = np.random.default_rng(0)
    capacity = np.reshape(plant.params.realised["capacity_scale"], (NS, n_parallel))
    true_soc = (out["cell_soc"].reshape(-1, NS, n_parallel) * capacity).sum(axis=2) / capacity.sum(axis=1)  # charge-weighted
    return {"time_s": time_s, "current": current * 1.005 + rng.normal(0.0, 0.05, current.shape),
            "voltage": out["element_voltage_V"] + rng.normal(0.0, 0.01, out["element_voltage_V"].shape),
            "temperature": out["cell_temperature_K"].reshape(-1, NS, n_parallel).mean(axis=2), "true_soc": true_soc,
            "true_voltage": out["element_voltage_V"]}


@pytest.fixture(scope="module")
def plant_run():
    return measured_plant()


@pytest.mark.parametrize("method", ["ekf", "ukf"])
def test_filters_converge_from_a_20_percent_error_and_coulomb_counting_does_not(plant_run, method):
    r = plant_run
    est = bms(initial_soc=0.5, method=method).run(r["time_s"], r["current"], r["voltage"], r["temperature"])
    error, error_cc = est["soc"] - r["true_soc"], est["soc_coulomb_counting"] - r["true_soc"]
    after = est["time_s"] > 300
    # measured: EKF 0.027-0.064 % RMS per element, 0.17 % at most, within 2 % after 2-3 s; UKF
    # 0.024-0.066 %, 0.16 %, within 2 % from its first correction
    assert np.sqrt(np.mean(error[after] ** 2, axis=0)).max() < 2e-3
    assert np.abs(error[after]).max() < 5e-3
    assert np.all(np.abs(error[30:]) < 0.02)
    # charge counting keeps the initial error and drifts with the gain error (measured -0.2 %..+1.0 %)
    np.testing.assert_allclose(error_cc, -0.2, rtol=0, atol=3e-3)
    np.testing.assert_allclose(est["pack_soc_min"], est["soc"].min(axis=1))
    np.testing.assert_allclose(est["pack_soc_mean"], est["soc"].mean(axis=1))
    assert est["soc_std"][-1].max() < est["soc_std"][0].min() / 10  # the filter knows it has converged
    # imbalance: the estimated spread against the plant's within two of its standard deviations
    # (measured: 1.27 at most after 300 s, 0.97e-3 in SoC)
    true_spread = np.ptp(r["true_soc"], axis=1)
    assert np.all(np.abs(est["soc_spread"] - true_spread)[after] < 2 * est["soc_spread_std"][after])
    np.testing.assert_allclose(est["voltage_spread_V"], np.ptp(r["voltage"], axis=1))


def test_initial_soc_from_the_ocv_at_rest():
    cell = default_cell_parameters()
    socs = np.array([0.15, 0.4, 0.65, 0.9])
    plant = ModuleTwin(ModuleParameters.from_dict({
        "name": "rest", "source": "test", "cell": cell.model_dump(mode="json", exclude_none=True),
        "n_series": NS, "n_parallel": NP, "variation": {"initial_soc": list(np.repeat(socs, NP))}}))
    rest = plant.step(0.0, 1.0)
    twin = bms()
    out = twin.step(rest["element_voltage_V"], 298.15, 0.0, 1.0)
    np.testing.assert_allclose(out["soc"], socs, atol=1e-3)


def test_filter_jacobians_equal_finite_differences_of_the_numpy_cell_step():
    twin = bms()
    # off the tables' breakpoints (there the slope jumps); every RC voltage of the structure
    z = [np.array([0.234, 0.517, 0.773, 0.936])] + [np.array([0.01, -0.02, 0.0, 0.03])] * twin.structure.cell.n_rc
    assert len(z) >= 2
    u = {"current_A": np.array([150.0, -80.0, 20.0, 0.0]), "temperature_K": np.array([278.15, 298.15, 308.15, 298.15]),
         "dt_s": 1.0}
    for fn in (twin.transition, twin.measurement):
        _, jac = NUMPY.linearise(fn, z, u)
        for k in range(len(z)):
            h = 1e-6
            up = [v + (h if j == k else 0.0) for j, v in enumerate(z)]
            down = [v - (h if j == k else 0.0) for j, v in enumerate(z)]
            fd = [(a - b) / (2 * h) for a, b in zip(fn(NUMPY, up, u), fn(NUMPY, down, u))]
            for i in range(len(fd)):
                np.testing.assert_allclose(jac[i][k], fd[i], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ["ekf", "ukf"])
def test_covariance_stays_symmetric_and_positive(plant_run, method):
    r = plant_run
    twin = bms(initial_soc=0.5, method=method)
    for k in range(200):
        twin.step(r["voltage"][k], r["temperature"][k], r["current"][k], 1.0)
    n_z = twin.structure.n_z
    p = np.array([[twin.state[f"covariance{i}_{j}"] for j in range(n_z)] for i in range(n_z)])  # (n, n, elements)
    np.testing.assert_allclose(p, np.transpose(p, (1, 0, 2)), rtol=0, atol=1e-18)
    assert all(np.linalg.eigvalsh(p[:, :, e]).min() > 0 for e in range(NS))


@pytest.mark.parametrize("inputs, expect", [
    ({"element_voltage_V": [3.6, np.nan, 3.6, 3.6]}, "element_voltage_V[1]"),
    ({"element_voltage_V": [3.6, 3.6]}, "2 values for 4 series elements"),
    ({"temperature_K": -5.0}, "temperature_K[0]"),
    ({"current_A": np.inf}, "current_A"),
    ({"dt_s": 0.0}, "dt_s"),
])
def test_bad_input_names_the_input_and_keeps_the_state(inputs, expect):
    twin = bms(initial_soc=0.5)
    good = {"element_voltage_V": [3.6] * NS, "temperature_K": 298.15, "current_A": 10.0, "dt_s": 1.0}
    twin.step(**good)
    before = twin.get_state()
    with pytest.raises(InputError, match=expect.replace("[", r"\[").replace("]", r"\]")):
        twin.step(**{**good, **inputs})
    assert twin.get_state() == before


def test_element_of_parallel_cells_is_one_cell_of_np_times_the_capacity():
    s, p = default_cell_parameters(), None
    from fmutwin.twins.cell_ecm import equation_parameters

    structure, p = equation_parameters(s)
    element = estimation.element_parameters(p, 3)
    assert element["nominal_capacity_As"] == 3 * p["nominal_capacity_As"]
    assert element["r0_scale"] == p["r0_scale"] / 3 and element["rc_resistance_scale"] == p["rc_resistance_scale"] / 3


def test_adaptive_filter_finds_a_larger_resistance_and_keeps_soc_where_the_ekf_drifts():
    r = measured_plant(r0_scale=1.5)
    runs = {m: bms(initial_soc=0.5, method=m).run(r["time_s"], r["current"], r["voltage"], r["temperature"])
            for m in ("ekf", "adaptive")}
    late = runs["adaptive"]["time_s"] > 600
    # measured: R0 factor 1.41..1.51 after 600 s, 1.44-1.49 at the end (the plant's 1.5)
    np.testing.assert_allclose(runs["adaptive"]["r0_factor"][late], 1.5, rtol=0.1)
    np.testing.assert_allclose(runs["adaptive"]["soh_resistance"][-1], 0.5, atol=0.1)  # (2 - 1.5) / (2 - 1)
    after = runs["ekf"]["time_s"] > 300
    rms = {m: np.sqrt(np.mean((out["soc"] - r["true_soc"])[after] ** 2)) for m, out in runs.items()}
    assert rms["adaptive"] < 0.5 * rms["ekf"]  # measured 0.03 % against 0.18 %
    assert np.all(runs["ekf"]["r0_factor"] == 1.0) and np.all(runs["ekf"]["soh_resistance"] == 1.0)


def test_usable_pack_soc_respects_the_weakest_and_the_strongest_element():
    from fmutwin.twins.bms import usable_soc

    assert usable_soc(np.array([0.0, 0.5, 0.9])) == 0.0  # the weakest is empty: nothing left to discharge
    assert usable_soc(np.array([0.2, 1.0])) == pytest.approx(1.0)  # the strongest is full: the pack is full
    assert usable_soc(np.array([0.4, 0.4, 0.4])) == pytest.approx(0.4)
    assert usable_soc(np.array([0.3, 0.6])) == pytest.approx(0.3 / 0.7)


@pytest.mark.parametrize("method", ["ekf", "ukf", "adaptive"])
def test_state_restore_repeats_the_run_exactly(plant_run, method):
    import json

    r = plant_run
    twin = bms(initial_soc=0.5, method=method)
    assert twin.get_state()["started"] == 0.0

    def steps(k0, k1):
        return [twin.step(r["voltage"][k], r["temperature"][k], r["current"][k], 1.0, charger_connected=float(k > 150))
                for k in range(k0, k1)]

    steps(0, 100)
    saved = json.loads(json.dumps(twin.get_state()))
    first = steps(100, 200)
    twin.set_state(saved)
    again = steps(100, 200)
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_the_filter_models_the_cells_hysteresis():
    """A 4s1p plant whose cells have hysteresis (10-30 mV, and 2-4 mV by the current's sign): the
    EKF whose model has it too (the state H estimated, its sign from the measured current) keeps
    the SoC where the same filter on the cell file without hysteresis is biased by the hysteresis
    voltage."""
    cell = hysteresis_cell()
    r = measured_plant(cell=cell, n_parallel=1)
    plain = cell.model_copy(update={"hysteresis": None})
    runs = {name: bms(cell=c, n_parallel=1, initial_soc=0.5).run(r["time_s"], r["current"], r["voltage"],
                                                                   r["temperature"])
            for name, c in (("modelled", cell), ("ignored", plain))}
    after = runs["modelled"]["time_s"] > 300
    rms = {name: float(np.sqrt(np.mean((out["soc"] - r["true_soc"])[after] ** 2))) for name, out in runs.items()}
    # measured: 0.11 % RMS modelled, 0.52 % ignored
    assert rms["modelled"] < 0.5 * rms["ignored"]
    assert rms["modelled"] < 2e-3
