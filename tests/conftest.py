"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.params import CellParameters, default_cell_parameters


@pytest.fixture
def default_params() -> CellParameters:
    return default_cell_parameters()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)
