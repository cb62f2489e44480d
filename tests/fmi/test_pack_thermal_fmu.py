"""The pack-thermal twin as Python and native FMUs, FMI 2.0 and 3.0, from its one declaration:
conformant, equal to the numpy twin (a pump failure included), bad flow refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from fmutwin.params.pack import PackThermalParameters
from fmutwin.registry import twin
from fmutwin.twins.pack_thermal import PackThermalTwin
from fmutwin.twins.pack_thermal_interface import equation_spec

CASES = [(k, v) for k in ("python", "native") for v in (2, 3)]


@pytest.fixture(scope="module")
def pack_fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack_thermal")
    params = PackThermalParameters.from_dict({"name": "three", "source": "test", "n_modules": 3,
                                              "plate_heat_capacity_J_per_K": [1500.0, 2000.0, 2500.0]})
    path = out / "pack_thermal.json"
    params.save(path)
    entry = replace(twin("pack_thermal"), parameter_file=lambda: path, equations=lambda: equation_spec(params))
    fmus = {("python", v): build_python_fmu(entry, v, out) for v in (2, 3)}
    fmus.update({("native", v): build_native(entry, out, v) for v in (2, 3)})
    return params, fmus


def _array(host, name, values):
    return {name: list(values)} if host.version == 3 else {f"{name}[{i + 1}]": v for i, v in enumerate(values)}


def _read(host, name, n):
    return host.get(name) if host.version == 3 else host.get(*[f"{name}[{i + 1}]" for i in range(n)])


def test_every_export_is_conformant(pack_fmus):
    for path in pack_fmus[1].values():
        assert check_fmu(path) == [], path.name


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-fmi{c[1]}")
def test_every_export_equals_the_numpy_twin_through_a_pump_failure(open_fmu, pack_fmus, case):
    params, fmus = pack_fmus
    ref = PackThermalTwin(params)
    host = open_fmu(fmus[case])
    host.initialize(coolantInletTemperature=290.0, ambientTemperature=300.0)
    rng = np.random.default_rng(2)
    for k in range(120):
        heat = rng.uniform(0, 1000, 3)
        flow = 0.0 if 40 <= k < 80 else 0.08
        host.set(coolantFlow=flow, **_array(host, "plateHeat", heat), **_array(host, "enclosureHeat", heat / 50))
        host.step(5.0)
        y = ref.step(5.0, flow, 290.0, 300.0, heat, heat / 50)
        np.testing.assert_allclose(_read(host, "plateTemperature", 3), y["plate_temperature_K"], rtol=1e-12)
        assert host.get("outletTemperature")[0] == pytest.approx(y["outlet_temperature_K"], rel=1e-12)
        assert host.get("heatToCoolant")[0] == pytest.approx(y["heat_to_coolant_W"], rel=1e-9, abs=1e-9)
    assert host.errors() == []


def test_a_negative_flow_is_refused_with_a_log_line(open_fmu, pack_fmus):
    host = open_fmu(pack_fmus[1][("native", 3)])
    host.initialize()
    host.set(coolantFlow=-0.1)
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert "input coolantFlow = -0.10000000000000001 kg/s is outside its range [0, 100]" in host.errors()[-1]
