"""The reference answer for FMU tests: the numpy twin called directly."""

from __future__ import annotations

import numpy as np


def twin_reference(time_s: np.ndarray, current_A: np.ndarray) -> dict[str, np.ndarray]:
    """The numpy twin called directly with the FMU's default parameters: the reference answer."""
    from fmutwin.params import default_cell_parameters
    from fmutwin.twins import CellECMTwin

    return CellECMTwin(default_cell_parameters()).run(time_s, current_A, ambient_temperature_K=298.15)
