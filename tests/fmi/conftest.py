"""Builds the Python FMUs once per test session (real FMUs, built by fmutwin's own builder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmutwin.data import drive_cycle
from fmutwin.fmi.build import build_python_fmu
from fmutwin.registry import twin


@pytest.fixture(scope="session")
def fmu_dir(tmp_path_factory) -> Path:
    """The in-process cell ECM Python FMUs (pythonfmu's binary: the slave runs in the host)."""
    out = tmp_path_factory.mktemp("fmus")
    for version in (2, 3):
        build_python_fmu(twin("cell_ecm"), version, out, runner="in-process")
    return out


@pytest.fixture(scope="session")
def process_fmu_dir(tmp_path_factory) -> Path:
    """The out-of-process cell ECM Python FMUs (the default: a worker process per instance)."""
    out = tmp_path_factory.mktemp("process_fmus")
    for version in (2, 3):
        build_python_fmu(twin("cell_ecm"), version, out)
    return out


@pytest.fixture(scope="session")
def process_cell_fmu(process_fmu_dir):
    """Path of the out-of-process cell ECM FMU for FMI version 2 or 3."""
    return lambda version: process_fmu_dir / f"CellECM_fmi{version}.fmu"


@pytest.fixture(scope="session")
def native_dir(tmp_path_factory) -> Path:
    """The native cell ECM FMUs (FMI 2.0 and 3.0), built once per test session."""
    from fmutwin.fmi.native.build import build_native

    out = tmp_path_factory.mktemp("native")
    for version in (2, 3):
        build_native(twin("cell_ecm"), out, version)
    return out


@pytest.fixture(scope="session")
def cell_fmu(fmu_dir):
    """Path of the in-process cell ECM FMU for FMI version 2 or 3."""
    return lambda version: fmu_dir / f"CellECM_fmi{version}.fmu"


@pytest.fixture(scope="session")
def us06_profile() -> tuple[np.ndarray, np.ndarray]:
    """US06 scaled to the default 100 Ah cell (x10, peak 81 A), positive = discharge."""
    return drive_cycle("US06", scale=10.0)


@pytest.fixture
def open_fmu():
    """Opens FmpyHost instances and frees every one of them after the test (an instance left
    to the garbage collector can outlive its library and crash the process)."""
    from _fmpy_host import FmpyHost

    hosts = []

    def make(path, **kwargs):
        hosts.append(FmpyHost(path, **kwargs))
        return hosts[-1]

    yield make
    for host in hosts:
        host.close()


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test():
    """Run the garbage collector after every FMU test so that a reference-count fault in an FMU
    run time shows up in the test that caused it, not in some later one."""
    yield
    import gc

    gc.collect()
