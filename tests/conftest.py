"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmutwin.params import CellParameters, default_cell_parameters


@pytest.fixture(scope="session")
def fmu_host(tmp_path_factory) -> Path:
    """The C host (tests/fmi/c_host/fmu_host.c), compiled with gcc."""
    import shutil
    import subprocess

    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to build the C host (Debian: apt-get install gcc)"
    exe = tmp_path_factory.mktemp("c_host") / "fmu_host"
    build = subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-o", str(exe), str(HOST_SOURCE), "-ldl"],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, f"gcc failed:\n{build.stderr}"
    return exe


HOST_SOURCE = Path(__file__).parent / "fmi" / "c_host" / "fmu_host.c"


@pytest.fixture
def default_params() -> CellParameters:
    return default_cell_parameters()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


def _reduce(tmp_path_factory, name: str, temperatures_K: list[float], **config):
    """``fmutwin reduce`` on PyBaMM's DFN with Chen2020 (its default configuration otherwise, with
    ``config``'s changes; no native FMUs) into a fresh folder; the folder."""
    import json
    import subprocess
    import sys

    out = tmp_path_factory.mktemp(name)
    path = out / "config.json"
    path.write_text(json.dumps({"name": name, "temperatures_K": temperatures_K, **config}))
    run = subprocess.run([sys.executable, "-m", "fmutwin.cli", "reduce", str(path), "--out", str(out),
                          "--no-native"], capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


@pytest.fixture(scope="session")
def reduced_chen2020_dir(tmp_path_factory):
    """The reduction at 25 degC (``chen2020_dfn_2rc.json`` and its FMUs), made once per session."""
    return _reduce(tmp_path_factory, "chen2020_dfn_2rc", [298.15])


@pytest.fixture(scope="session")
def reduced_chen2020_three_temperatures(tmp_path_factory):
    """The 2-RC ECM reduced from the DFN at 15, 25 and 35 degC: its parameter file. Without the
    held-out validation runs, which its users (the BMS's tests) do not read: the fitted tables are
    the same (measured: identical files but for the record), in half the time (95 s against 201 s)."""
    return _reduce(tmp_path_factory, "chen2020_dfn_2rc_3t", [288.15, 298.15, 308.15], validation_cycles=[],
                   validation_discharge_c_rates=[]) / "chen2020_dfn_2rc_3t.json"


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
