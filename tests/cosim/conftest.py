"""The FMUs the master's tests couple: the flagship pack's (native Module FMI 3.0 of the reduced
cell, native PackThermal FMI 2.0, Python Bms FMI 3.0, native PowerLoad FMI 2.0), built once per
session, and a Python PackThermal FMI 3.0 for a system mixing Python and native."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pack_fmus(tmp_path_factory):
    from fmutwin.pack_cosim import build_pack_fmus

    return build_pack_fmus(tmp_path_factory.mktemp("pack_fmus"))


@pytest.fixture(scope="session")
def python_thermal_fmu(tmp_path_factory):
    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.registry import TWINS

    return build_python_fmu(TWINS["pack_thermal"], 3, tmp_path_factory.mktemp("python_thermal"))


@pytest.fixture(scope="session")
def pack():
    from fmutwin.params.flagship import flagship_pack_parameters

    return flagship_pack_parameters()
