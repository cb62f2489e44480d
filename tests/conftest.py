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


_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process without interpreter teardown, keeping pytest's exit status.

    pythonfmu 0.7.0 / pythonfmu3 0.3.4 binaries stay loaded after their FMUs are freed and
    destroy their global Python state twice at process exit, which can abort the process after
    every result has been reported (measured with the C host and the FMU benchmark; docs/fmi.md).
    The results are already written when this runs.
    """
    import os
    import sys

    if _EXIT_STATUS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
