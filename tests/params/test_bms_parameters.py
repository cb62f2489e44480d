"""The BMS parameter file: the shipped one re-made from the shipped cell and traced to it; bad
settings refused naming the field."""

from __future__ import annotations

import pytest

from fmutwin.params import default_cell_parameters
from fmutwin.params.base import ParameterError
from fmutwin.params.bms import BmsParameters
from fmutwin.registry import load_parameter_file


def test_shipped_bms_is_remade_from_the_shipped_cell_and_traces_to_it():
    from fmutwin.params.bms_example import bms_example
    from fmutwin.params.defaults import default_bms_file, default_bms_parameters
    from fmutwin.provenance import check, is_stale

    bms = default_bms_parameters()
    assert bms == bms_example(default_cell_parameters())
    assert {f.status for f in check(bms)} == {"ok"}
    assert is_stale(check(bms.model_copy(update={"n_series": 3})))
    import json

    assert isinstance(load_parameter_file(json.loads(default_bms_file().read_text()), "bms"), BmsParameters)


@pytest.mark.parametrize("changes, expect", [
    ({"n_series": 0}, "n_series"),
    ({"estimator": {"method": "kalman"}}, "estimator.method"),
    ({"estimator": {"voltage_noise_V": -1.0}}, "estimator.voltage_noise_V"),
    ({"monitoring": {"over_voltage_V": 2.0, "under_voltage_V": 3.0}}, "under_voltage_V must be below"),
    ({"balancing": {"start_soc_spread": 0.01, "stop_soc_spread": 0.02}}, "stop_soc_spread"),
    ({"health": {"forgetting": 1.5}}, "health.forgetting"),
    ({"charge": {"cv_voltage_V": float("nan")}}, "charge.cv_voltage_V"),
])
def test_bad_bms_settings_name_the_field(changes, expect):
    cell = default_cell_parameters().model_dump(mode="json", exclude_none=True)
    with pytest.raises(ParameterError, match=expect):
        BmsParameters.from_dict({"name": "bms", "cell": cell, "n_series": 2, **changes})


@pytest.mark.parametrize("changes, expect", [
    ({"monitoring": {"under_voltage_V": 2.6}}, "under_voltage_V .* must be below limits.min_cell_voltage_V"),
    ({"limits": {"max_cell_voltage_V": 4.3}}, "over_voltage_V .* must be above limits.max_cell_voltage_V"),
    ({"charge": {"cv_voltage_V": 4.195}}, "cv_voltage_V .* must be at most"),
])
def test_alarms_lie_beyond_the_limits_and_cv_within_them(changes, expect):
    cell = default_cell_parameters().model_dump(mode="json", exclude_none=True)
    with pytest.raises(ParameterError, match=expect):
        BmsParameters.from_dict({"name": "bms", "cell": cell, "n_series": 2, **changes})
