"""The BMS's current and power limits against a plant that is not its model (a 4s2p module twin
with capacity and R0 variation and SoC differences between elements): applied to the plant for
the horizon, a limit never takes an element past the voltage limits, and where the voltage binds
it comes close to them (not needlessly conservative); ratings, derating and the SoC window bound
the rest."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.params import default_cell_parameters
from fmutwin.params.bms import BmsParameters
from fmutwin.params.module import ModuleParameters
from fmutwin.twins.bms import BmsTwin
from fmutwin.twins.module import ModuleTwin

NS, NP = 4, 2
V_MIN, V_MAX = 3.0, 4.1
RATED_A = 10 * 200.0  # 10C of an element of 2 x 100 Ah


def settled(soc: float, **limits):
    """Plant and BMS after 300 s of a +-60 A sine, the filter settled."""
    cell = default_cell_parameters().model_dump(mode="json", exclude_none=True)
    plant = ModuleTwin(ModuleParameters.from_dict({
        "name": "plant", "source": "test", "cell": cell, "n_series": NS, "n_parallel": NP, "variation": {
            "capacity_scale": {"kind": "normal", "spread": 0.02, "seed": 3},
            "r0_scale": {"kind": "normal", "spread": 0.05, "seed": 4},
            "initial_soc": list(np.repeat([soc, soc + 0.03, soc - 0.02, soc], NP))}}))
    bms = BmsTwin(BmsParameters.from_dict({"name": "bms", "cell": cell, "n_series": NS, "n_parallel": NP, "limits": {
        "min_cell_voltage_V": V_MIN, "max_cell_voltage_V": V_MAX, "max_discharge_c_rate": 10, "max_charge_c_rate": 10,
        **limits}, "charge": {"cv_voltage_V": 4.0}}))
    for k in range(300):
        current = 60.0 * np.sin(k / 20.0)
        y = plant.step(current, 1.0)
        out = bms.step(y["element_voltage_V"], y["cell_temperature_K"].reshape(NS, NP).mean(axis=1), current, 1.0)
    return plant, out


def apply(plant: ModuleTwin, current: float, seconds: int = 10) -> tuple[np.ndarray, float]:
    """The plant's element voltages over the horizon at a held current, and its power at the end."""
    state = plant.get_state()
    rows = [plant.step(current, 1.0) for _ in range(seconds)]
    plant.set_state(state)
    return np.array([r["element_voltage_V"] for r in rows]), rows[-1]["module_voltage_V"] * current


@pytest.mark.parametrize("soc", [0.1, 0.5, 0.9])
def test_limits_keep_the_plant_inside_its_voltage_limits_and_come_close_where_they_bind(soc):
    plant, out = settled(soc)
    volts, power = apply(plant, out["discharge_current_limit_A"])
    assert volts.min() >= V_MIN
    if out["discharge_current_limit_A"] < RATED_A:  # voltage-limited: measured 39 mV above at SoC 0.1
        assert volts.min() < V_MIN + 0.06
    else:
        assert out["discharge_current_limit_A"] == pytest.approx(RATED_A)
    # power limits: the limit current times the pack voltage it gives the plant (measured: discharge
    # 0.6-2.0 % below, at up to 10C; charge 0-1.2 % above)
    assert out["discharge_power_limit_W"] == pytest.approx(power, rel=0.03)
    volts, power = apply(plant, -out["charge_current_limit_A"])
    assert out["charge_power_limit_W"] == pytest.approx(-power, rel=0.02)
    assert volts.max() <= V_MAX and volts.max() > V_MAX - 0.05  # measured 9-36 mV below
    assert out["charge_current_limit_A"] > 0


def test_derating_and_the_soc_window_bound_the_limits():
    plant, out = settled(0.5)
    assert out["discharge_current_limit_A"] == pytest.approx(RATED_A)  # the rating binds at mid SoC
    slow_charge = settled(0.5, max_charge_c_rate=2)[1]  # 400 A, below the voltage-limited 1291 A
    assert slow_charge["charge_current_limit_A"] == pytest.approx(400.0)
    assert slow_charge["discharge_current_limit_A"] == pytest.approx(RATED_A)
    derated = settled(0.5, max_charge_c_rate=2, derating_temperature_K=[280.0, 320.0],
                      charge_derating=[0.0, 1.0], discharge_derating=[1.0, 1.0])[1]
    # at the pack's 298.2-298.4 K the charge factor is (T - 280) / 40, about 0.46
    assert derated["charge_current_limit_A"] == pytest.approx(400.0 * (298.3 - 280.0) / 40.0, rel=0.01)
    hot = settled(0.5, derating_temperature_K=[250.0, 260.0], charge_derating=[0.5, 0.25],
                  discharge_derating=[0.5, 0.25])[1]  # at 298 K the factors hold their last value, 0.25
    assert hot["discharge_current_limit_A"] == pytest.approx(0.25 * RATED_A)
    assert hot["charge_current_limit_A"] <= 0.25 * RATED_A + 1e-9
    window = settled(0.5, soc_window=(0.6, 0.95))[1]  # every element below 0.6: no discharge
    assert window["discharge_current_limit_A"] == 0.0 and window["charge_current_limit_A"] > 0
    window = settled(0.5, soc_window=(0.05, 0.4))[1]  # every element above 0.4: no charge
    assert window["charge_current_limit_A"] == 0.0 and window["discharge_current_limit_A"] > 0


@pytest.mark.parametrize("limits, expect", [
    ({"min_cell_voltage_V": 4.2, "max_cell_voltage_V": 4.1}, "min_cell_voltage_V"),
    ({"derating_temperature_K": [300.0, 290.0], "discharge_derating": [1, 1], "charge_derating": [1, 1]},
     "strictly increasing"),
    ({"discharge_derating": [1.0, 1.0]}, "discharge_derating: 2 values for 5 temperatures"),
    ({"charge_derating": [1.0, 1.0, 1.0, 1.0, 1.5]}, "charge_derating: every factor must be in [0, 1]"),
    ({"soc_window": (0.5, 0.4)}, "soc_window"),
])
def test_bad_limit_settings_name_the_field(limits, expect):
    from fmutwin.params.base import ParameterError

    cell = default_cell_parameters().model_dump(mode="json", exclude_none=True)
    with pytest.raises(ParameterError, match=expect.replace("[", r"\[").replace("]", r"\]")):
        BmsParameters.from_dict({"name": "bms", "cell": cell, "n_series": 1, "limits": limits})
