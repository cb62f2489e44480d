"""Bad inputs give a specific error naming the input; nothing recorded is lost."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cells import make_cell, simple_cell
from fmutwin.ops import TableRangeError
from fmutwin.twins import CellECMTwin
from fmutwin.interface import InputError, StateError


@pytest.mark.parametrize("kwargs, name", [
    ({"current_A": float("nan")}, "current_A"),
    ({"current_A": float("inf")}, "current_A"),
    ({"ambient_temperature_K": float("nan")}, "ambient_temperature_K"),
    ({"ambient_temperature_K": -5.0}, "ambient_temperature_K"),
    ({"heat_flow_W": float("-inf")}, "heat_flow_W"),
    ({"dt_s": 0.0}, "dt_s"),
])
def test_bad_inputs_raise_naming_the_input_and_keep_the_state(kwargs, name):
    twin = CellECMTwin(simple_cell())
    twin.step(10.0, 1.0)
    before = twin.get_state()
    args = {"current_A": 10.0, "dt_s": 1.0, "ambient_temperature_K": 298.15, "heat_flow_W": 0.0, **kwargs}
    with pytest.raises(InputError, match=name):
        twin.step(**args)
    assert all(np.array_equal(before[k], twin.state[k]) for k in before)


def test_run_keeps_the_results_recorded_before_a_failure():
    twin = CellECMTwin(simple_cell())
    time_s = np.arange(0.0, 11.0)
    current = np.full(11, 20.0)
    current[6] = np.nan
    with pytest.raises(InputError) as info:
        twin.run(time_s, current)
    partial = info.value.partial
    assert len(partial["voltage_V"]) == 6 and np.all(np.isfinite(partial["voltage_V"]))
    np.testing.assert_array_equal(partial["time_s"], time_s[1:7])


def test_error_extrapolation_stops_with_the_table_name():
    params = make_cell(ocv_V={"soc": [0.0, 1.0], "values": [3.0, 4.2], "extrapolation": "error"},
                       initial={"soc": 0.01, "temperature_K": 298.15})
    twin = CellECMTwin(params)
    with pytest.raises(TableRangeError, match="ocv_V"):
        for _ in range(100):
            twin.step(100.0, 60.0)
    assert twin.state["soc"][0] >= 0.0


def test_soc_outside_limits_warns_or_raises(caplog):
    params = simple_cell(initial={"soc": 0.001, "temperature_K": 298.15})
    with caplog.at_level(logging.WARNING, logger="fmutwin"):
        CellECMTwin(params).step(100.0, 60.0)
    assert any("SOC" in r.message and "left [0.0, 1.0]" in r.message for r in caplog.records)
    with pytest.raises(StateError, match="SOC"):
        CellECMTwin(params, soc_limit_is_error=True).step(100.0, 60.0)


def test_state_save_and_restore_gives_identical_continuation(rng):
    from cells import all_features

    twin = CellECMTwin(all_features())
    currents = rng.uniform(-50, 80, 200)
    for i in currents[:100]:
        twin.step(i, 1.0)
    saved = twin.get_state()
    first = [twin.step(i, 1.0)["voltage_V"][0] for i in currents[100:]]
    twin.set_state(saved)
    again = [twin.step(i, 1.0)["voltage_V"][0] for i in currents[100:]]
    assert first == again
