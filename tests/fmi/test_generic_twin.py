"""The twin-neutral FMI layer on a twin shaped unlike the cell (tests/fmi/string_twin.py: arrays,
a structural Integer, Integer and Boolean variables, an array input, a parameter-bounded range):
built by the same generic path as Python and native FMUs, FMI 2.0 and 3.0, conformant, and run in
fmpy against the closed-form solution of its equations (computed here with numpy, not with the
twin's code)."""

from __future__ import annotations

import fmpy
import numpy as np
import pytest
from fmpy.fmi1 import FMICallException

from fmutwin.fmi.build import build_python_fmu
from fmutwin.fmi.check import check_fmu
from fmutwin.fmi.native.build import build_native
from string_twin import EXPORT

CASES = [(k, v) for k in ("python", "native") for v in (2, 3)]


@pytest.fixture(scope="module")
def string_fmus(tmp_path_factory):
    out = tmp_path_factory.mktemp("string_twin")
    return {("python", v): build_python_fmu(EXPORT, v, out) for v in (2, 3)} | {
        ("native", v): build_native(EXPORT, out, v) for v in (2, 3)}


@pytest.fixture(params=CASES, ids=lambda c: f"{c[0]}-fmi{c[1]}")
def case(request, string_fmus):
    return request.param, string_fmus[request.param]


def _array(host, name: str, values) -> dict:
    """An array parameter or input as the FMU names it: one array (FMI 3.0) or name[i] scalars."""
    if host.version == 3:
        return {name: list(values)}
    return {f"{name}[{i + 1}]": v for i, v in enumerate(values)}


def _read(host, name: str, n: int) -> list[float]:
    return host.get(name) if host.version == 3 and n > 1 else host.get(*[f"{name}[{i + 1}]" for i in range(n)])


def _get_typed(host, name: str):
    var = host.vars[name]
    if var.type == "Boolean":
        return bool(host.fmu.getBoolean([var.valueReference])[0])
    getter = host.fmu.getInteger if host.version == 2 else host.fmu.getInt32
    return int(getter([var.valueReference])[0])


def closed_form(c, r, v0, g, currents, dt, connected):
    """v(t+dt) = v e^(-a) - I/G (1 - e^(-a)), a = G dt / C (v - I dt / C for G = 0), per cell."""
    v = np.array(v0, float)
    rows = []
    for current, on in zip(currents, connected):
        i = current if on else 0.0
        a = g * dt / c
        decay = np.exp(-a)
        v = np.where(g > 0, v * decay - i / np.where(g > 0, g, 1.0) * (1 - decay), v - i * dt / c)
        rows.append(v - i * r)
    return np.array(rows)


def test_every_export_is_conformant(string_fmus):
    for path in string_fmus.values():
        assert check_fmu(path) == [], path.name


def test_arrays_integers_and_booleans_through_every_export(open_fmu, case):
    (kind, version), path = case
    host = open_fmu(path)
    c, r, v0 = [90.0, 110.0, 70.0], [0.02, 0.01, 0.03], [3.2, 3.0, 3.1]
    g = np.array([0.0, 0.01, 0.02])
    host.initialize(**_array(host, "capacitance", c), **_array(host, "resistance", r),
                    **_array(host, "initialVoltage", v0), reportCell=3, numCells=3,
                    **_array(host, "leakConductance", g), current=4.0)
    # outputs after initialisation already carry the current set during it: v0 - I R
    np.testing.assert_allclose(_read(host, "cellVoltage", 3), np.array(v0) - 4.0 * np.array(r), atol=1e-9)
    currents = [4.0, -2.0, 10.0, 0.0, 7.5]
    connected = [True, True, False, True, True]
    got, highest, below, reported = [], [], [], []
    for current, on in zip(currents, connected):
        host.set(current=current, connected=on)
        host.step(2.0)
        got.append(_read(host, "cellVoltage", 3))
        highest.append(_get_typed(host, "highestCell"))
        below.append(_get_typed(host, "anyBelow"))
        reported.append(host.get("reportedVoltage")[0])
        assert host.get("stringVoltage")[0] == pytest.approx(sum(got[-1]), abs=1e-12)
    ref = closed_form(np.array(c), np.array(r), v0, g, currents, 2.0, connected)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    assert highest == [int(np.argmax(row)) + 1 for row in ref] and below == [False] * len(ref)
    np.testing.assert_allclose(reported, ref[:, 2], atol=1e-12)
    assert host.errors() == [] and host.warnings() == []


def test_a_structural_parameter_takes_only_its_built_value(open_fmu, case):
    (_, _), path = case
    host = open_fmu(path)
    with pytest.raises(FMICallException):
        host.initialize(numCells=4)
    assert any("numCells" in e and ("fixed" in e or "[3, 3]" in e) for e in host.errors()), host.errors()


def test_array_input_and_parameter_bounded_range_are_checked(open_fmu, case):
    (_, _), path = case
    host = open_fmu(path)
    host.initialize(currentLimit=5.0)
    host.set(current=6.0)
    with pytest.raises(FMICallException):
        host.step(1.0)
    assert "current = 6" in host.errors()[-1] and "currentLimit" in host.errors()[-1] or "5]" in host.errors()[-1]
    other = open_fmu(path, instance="leak")
    other.initialize()
    other.set(**_array(other, "leakConductance", [0.0, -1.0, 0.0]))
    with pytest.raises(FMICallException):
        other.step(1.0)
    assert "leakConductance" in other.errors()[-1] and "-1" in other.errors()[-1], other.errors()


def test_output_warn_range_logs_a_warning(open_fmu, case):
    (_, _), path = case
    host = open_fmu(path)
    host.initialize(**_array(host, "initialVoltage", [1.9, 3.0, 3.0]))
    host.step(1.0)
    assert any("cellVoltage[1] = 1.9 outside [2, 4.5]" in w for w in host.warnings()), host.logs  # names the cell


def test_a_step_past_an_outputs_limit_is_discarded_naming_when_it_was_reached(open_fmu, case):
    """10 A from the default cells, no leak: the string voltage falls linearly and reaches its
    limit 0 V at t = (sum v0 - I sum R) / (I sum 1/C) = 27.73 s, inside the step from 25 to 30 s."""
    (kind, version), path = case
    host = open_fmu(path)
    host.initialize()
    host.set(current=10.0)
    for _ in range(5):
        host.step(5.0)
    before = host.get("stringVoltage")
    # discard; pythonfmu3's binary reports every refused Python step as fmi3Error
    with pytest.raises(FMICallException, match="status 3" if (kind, version) == ("python", 3) else "status 2"):
        host.step(5.0)
    c, r, v0 = np.array([100.0, 120.0, 80.0]), np.array([0.01, 0.02, 0.015]), np.array([3.0, 3.1, 2.9])
    reached = (v0.sum() - 10.0 * r.sum()) / (10.0 * np.sum(1.0 / c))
    message = host.logs[-1][1]
    assert "output stringVoltage" in message and "passes its limit 0 V" in message, host.logs
    assert abs(float(message.split("reached at t = ")[1].split(" s")[0]) - reached) < 1e-5
    assert host.get("stringVoltage") == before  # the state stays at the step's start


def test_dependencies_come_from_the_equations(string_fmus):
    md = fmpy.read_model_description(str(string_fmus[("native", 3)]))
    deps = {u.variable.name: {d.name for d in u.dependencies} for u in md.outputs}
    assert deps["cellVoltage"] >= {"current", "connected"} and deps["highestCell"] >= {"current"}
    md2 = fmpy.read_model_description(str(string_fmus[("python", 2)]))
    deps2 = {u.variable.name: {d.name for d in u.dependencies} for u in md2.outputs}
    assert deps2["cellVoltage[1]"] >= {"current", "connected", "leakConductance[1]"}
