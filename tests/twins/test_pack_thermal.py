"""The pack-thermal twin (cold plates in one coolant loop, an enclosure) against energy balances,
hand-derived steady states and a failed pump; and as Python and native FMUs."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.interface import InputError
from fmutwin.params.pack import PackThermalParameters
from fmutwin.twins.pack_thermal import PackThermalTwin

CP = 3500.0


def _params(**changes):
    return PackThermalParameters.from_dict({"name": "test", "source": "test", "n_modules": 3, **changes})


def test_the_coolant_carries_what_the_plates_give_and_energy_is_conserved():
    twin = PackThermalTwin(_params(plate_heat_capacity_J_per_K=[1500.0, 2000.0, 2500.0],
                                   plate_to_coolant_W_per_K=[150.0, 200.0, 250.0]))
    plates0, enclosure0 = twin.state["plate_temperature_K"].copy(), float(twin.state["enclosure_temperature_K"])
    rng = np.random.default_rng(1)
    energy_in = energy_out = 0.0
    for k in range(300):
        heat, air = rng.uniform(0, 1500, 3), rng.uniform(0, 50, 3)
        flow = [0.1, 0.02, 0.0, 0.3][k // 80]
        y = twin.step(5.0, flow, 293.15, 303.15, heat, air)
        if flow > 0:  # the coolant's own balance: mdot cp (T_out - T_in) = what the plates gave it
            assert flow * CP * (y["outlet_temperature_K"] - 293.15) == pytest.approx(y["heat_to_coolant_W"], rel=1e-12)
        assert y["heat_to_coolant_W"] == pytest.approx(y["plate_heat_to_coolant_W"].sum(), rel=1e-12)
        energy_in += (heat.sum() + air.sum()) * 5.0
        energy_out += (y["heat_to_coolant_W"] + y["heat_to_ambient_W"]) * 5.0
    stored = (np.dot([1500.0, 2000.0, 2500.0], twin.state["plate_temperature_K"] - plates0)
              + 20000.0 * (float(twin.state["enclosure_temperature_K"]) - enclosure0))
    assert stored + energy_out == pytest.approx(energy_in, rel=1e-12)


def test_steady_state_of_one_plate_is_the_heat_exchangers():
    """One plate, no enclosure coupling: Q = e mdot cp (T_p - T_in) with e = 1 - exp(-UA / (mdot cp)),
    and the outlet is T_in + Q / (mdot cp)."""
    twin = PackThermalTwin(PackThermalParameters.from_dict({
        "name": "one", "source": "test", "n_modules": 1, "plate_to_enclosure_W_per_K": 0.0, "flow_exponent": 0.8}))
    flow, q = 0.05, 900.0
    for _ in range(2000):
        y = twin.step(10.0, flow, 290.0, 300.0, [q])
    ua = 200.0 * (flow / 0.1) ** 0.8
    e = 1 - np.exp(-ua / (flow * CP))
    assert y["plate_temperature_K"][0] == pytest.approx(290.0 + q / (e * flow * CP), abs=1e-9)
    assert y["outlet_temperature_K"] == pytest.approx(290.0 + q / (flow * CP), abs=1e-9)


def test_modules_downstream_see_warmer_coolant():
    twin = PackThermalTwin(_params())
    for _ in range(500):
        y = twin.step(10.0, 0.05, 290.0, 290.0, [800.0] * 3)
    assert np.all(np.diff(y["coolant_temperature_K"]) > 0.5) and np.all(np.diff(y["plate_temperature_K"]) > 0.5)


def test_a_failed_pump_stays_physical():
    """Zero flow: no heat to the coolant, plates heat at Q/C less what the enclosure takes, the
    coolant leaves at the last plate's temperature, nothing is NaN; flow back cools them again."""
    twin = PackThermalTwin(_params(plate_to_enclosure_W_per_K=0.0))
    start = twin.state["plate_temperature_K"].copy()
    y = twin.step(10.0, 0.0, 290.0, 300.0, [400.0, 400.0, 400.0])
    assert y["heat_to_coolant_W"] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(y["plate_temperature_K"] - start, 400.0 * 10.0 / 2000.0, rtol=1e-6)
    for _ in range(100):
        y = twin.step(10.0, 0.0, 290.0, 300.0, [400.0, 400.0, 400.0])
    assert np.all(np.isfinite(y["plate_temperature_K"])) and y["outlet_temperature_K"] == pytest.approx(
        y["plate_temperature_K"][-1], abs=1e-6)
    hot = y["plate_temperature_K"].copy()
    for _ in range(50):
        y = twin.step(10.0, 0.2, 290.0, 300.0, [400.0, 400.0, 400.0])
    assert np.all(y["plate_temperature_K"] < hot - 50.0)


@pytest.mark.parametrize("kwargs", [{"coolant_flow_kg_per_s": -0.1}, {"coolant_flow_kg_per_s": float("nan")},
                                    {"plate_heat_W": [1.0, 2.0]}, {"coolant_inlet_temperature_K": 0.0}])
def test_bad_input_is_refused_and_the_state_kept(kwargs):
    twin = PackThermalTwin(_params())
    before = twin.get_state()
    args = {"dt_s": 1.0, "coolant_flow_kg_per_s": 0.1, "coolant_inlet_temperature_K": 290.0,
            "ambient_temperature_K": 300.0, "plate_heat_W": [1.0, 2.0, 3.0], **kwargs}
    with pytest.raises(InputError):
        twin.step(**args)
    assert all(np.array_equal(before[k], twin.get_state()[k]) for k in before)


def test_a_wrong_number_of_per_module_values_names_the_field():
    from fmutwin.params import ParameterError

    with pytest.raises(ParameterError, match="plate_to_coolant_W_per_K: 2 values for 3 modules"):
        _params(plate_to_coolant_W_per_K=[1.0, 2.0])
