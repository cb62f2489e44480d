"""The pipeline's validation step: the ECM twin driven by each trace's current, run as one
multi-cell twin where the traces share a time grid, must equal running each trace on its own."""

from __future__ import annotations

import numpy as np

from fmutwin.params.cell import Initial
from fmutwin.reduction.experiments import Trace, drive_cycle_profile, hppc_profile
from fmutwin.reduction.pipeline import validate
from fmutwin.twins.cell_ecm import CellECMTwin
from test_provenance import small_cell


def test_vectorised_validation_equals_one_twin_per_trace() -> None:
    params = small_cell()
    constant = params.with_changes(thermal=params.thermal.model_copy(update={"model": "constant"}))
    runs = [(drive_cycle_profile("US06", 2.0, 0.8), 288.15), (drive_cycle_profile("UDDS", 2.0, 0.5), 308.15),
            (drive_cycle_profile("US06", 2.0, 0.4), 298.15), (hppc_profile(2.0, (0.9, 0.5)), 298.15)]
    traces = []
    for profile, temp in runs:  # reference voltages: one twin per trace, offset by a known error
        p = constant.with_changes(initial=Initial(soc=profile.initial_soc, temperature_K=temp))
        v = CellECMTwin(p).run(profile.time_s, profile.current_A, ambient_temperature_K=temp)["voltage_V"]
        traces.append(Trace(profile, temp, v + 1e-3 * np.sin(np.arange(v.size)), 0.0))
    for result, (profile, _) in zip(validate(params, traces), runs):
        expected = 1e-3 * np.abs(np.sin(np.arange(profile.current_A.size)))
        assert result.experiment == profile.name
        np.testing.assert_allclose(result.max_V, expected.max(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(result.rms_V, np.sqrt(np.mean(expected ** 2)), rtol=0, atol=1e-12)
