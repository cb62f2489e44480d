"""The electrochemical twin with a *valid* BPX file: the LG M50 cell written as BPX 1.x from PyBaMM's
Chen2020 parameter set by :mod:`bpx_cell` (OCPs and electrolyte properties tabulated).

* The file is valid BPX (``bpx.parse_bpx_file``) and PyBaMM reads it without falling back to a
  default; PyBaMM's BPX reader recovers Chen2020's constants and exchange-current densities.
* The twin (SPMe, DFN) steps a 1C discharge from it: voltage within the file's cut-offs,
  discharge capacity = I t, ``parameter_set`` names the file.
* Independent path: ``pybamm.ParameterValues.create_from_bpx`` and one ``pybamm.Simulation``
  solve of the same current give the same voltage as the stepped twin (< 4e-3 mV RMS).
* Physical consistency with the source cell: the BPX cell's 1C discharge equals Chen2020 run
  directly to 0.15 mV RMS / 0.6 mV max; the difference is the linear interpolation of the 100-point
  OCP tables (a 1000-point table shrinks it ~25x, so it is not a convention mismatch).
* Lumped thermal: the BPX cell heats like Chen2020 (lumped density and heat capacity).
* Broken files: the error names the broken field (schema errors and out-of-range constants).
* The FMU's ``bpxFile`` parameter (FMI 2.0 and 3.0 through fmpy) equals the twin.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pybamm
import pytest

import bpx  # noqa: E402 - a test dependency: missing, these tests must fail, not skip

from bpx_cell import broken, chen2020_bpx, write_bpx  # noqa: E402

from fmutwin.twins.cell_echem import CellEchemTwin, LimitReached  # noqa: E402

INITIAL_SOC = 0.9  # PyBaMM stops a model that starts on the 4.2 V cut-off (SOC 1.0)
CURRENT_A = 5.0  # 1C of the 5 Ah cell
DT_S = 10.0
N_STEPS = 180  # 30 min: from SOC 0.9 to 0.4


@pytest.fixture(scope="module")
def bpx_doc() -> dict:
    return chen2020_bpx()


@pytest.fixture(scope="module")
def bpx_path(bpx_doc, tmp_path_factory):
    return write_bpx(bpx_doc, tmp_path_factory.mktemp("bpx") / "lgm50_chen2020.json")


def _rms_mV(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)) * 1e3)


def _stepped(twin: CellEchemTwin, n: int = N_STEPS) -> dict[str, np.ndarray]:
    return twin.run(np.arange(n + 1) * DT_S, np.full(n, CURRENT_A))


# -- the file ------------------------------------------------------------------------------------


def test_generated_file_is_valid_bpx(bpx_doc, bpx_path) -> None:
    parsed = bpx.parse_bpx_file(str(bpx_path))
    assert parsed.header.model == "DFN"
    cell = parsed.parameterisation.cell
    assert (cell.lower_voltage_cutoff, cell.upper_voltage_cutoff, cell.nominal_cell_capacity) == (2.5, 4.2, 5.0)
    for side in ("negative_electrode", "positive_electrode"):
        electrode = getattr(parsed.parameterisation, side)
        assert 0 < electrode.minimum_stoichiometry < electrode.maximum_stoichiometry < 1
        assert len(electrode.ocp.x) == 100 and electrode.ocp.x[0] == 0.0 and electrode.ocp.x[-1] == 1.0
    assert json.loads(bpx_path.read_text()) == bpx_doc
    # complete: PyBaMM needs no default (it warns for every field it has to fill in)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        pybamm.ParameterValues.create_from_bpx(bpx_path)


def test_pybamm_recovers_chen2020_from_the_file(bpx_path) -> None:
    """BPX's conventions (transport efficiency, surface area per volume, normalised rate constant)
    convert back to exactly Chen2020's values."""
    got = pybamm.ParameterValues.create_from_bpx(bpx_path)
    ref = pybamm.ParameterValues("Chen2020")
    for name in ("Negative electrode active material volume fraction", "Positive electrode active material volume "
                 "fraction", "Negative electrode Bruggeman coefficient (electrolyte)", "Separator Bruggeman "
                 "coefficient (electrolyte)", "Negative electrode thickness [m]", "Positive particle radius [m]",
                 "Maximum concentration in positive electrode [mol.m-3]", "Positive electrode conductivity [S.m-1]",
                 "Cation transference number", "Nominal cell capacity [A.h]",
                 "Open-circuit voltage at 100% SOC [V]"):
        assert float(got[name]) == pytest.approx(float(ref[name]), rel=1e-12), name
    assert float(got["Electrode width [m]"]) * float(got["Electrode height [m]"]) == pytest.approx(0.065 * 1.58)
    # exchange-current densities (with their Arrhenius factor) and diffusivities, at several states
    def value(fun, *args):
        return float(np.ravel(fun(*[pybamm.Scalar(a) for a in args]).evaluate())[0])

    for electrode, c_max in (("Negative", 33133.0), ("Positive", 63104.0)):
        name = f"{electrode} electrode exchange-current density [A.m-2]"
        for c_e, x, T in ((1000.0, 0.5, 298.15), (600.0, 0.1, 273.15), (1800.0, 0.9, 318.15)):
            assert value(got[name], c_e, x * c_max, c_max, T) == pytest.approx(
                value(ref[name], c_e, x * c_max, c_max, T), rel=1e-9), (name, c_e, x, T)
        name = f"{electrode} particle diffusivity [m2.s-1]"
        assert value(got[name], 0.5, 298.15) == pytest.approx(float(ref[name]), rel=1e-12)


# -- the twin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", ["SPMe", "DFN"])
def test_twin_steps_a_1c_discharge_from_the_bpx_file(bpx_path, model_name: str) -> None:
    twin = CellEchemTwin(model=model_name, bpx_file=bpx_path, initial_soc=INITIAL_SOC)
    assert twin.parameter_set == "BPX:lgm50_chen2020.json"
    assert twin.nominal_capacity_Ah == 5.0
    out = _stepped(twin)
    t = np.arange(1, N_STEPS + 1) * DT_S
    np.testing.assert_allclose(out["time_s"], t, atol=1e-9)
    np.testing.assert_allclose(out["current_A"], CURRENT_A, rtol=1e-12)
    assert np.all((out["voltage_V"] > 2.5) & (out["voltage_V"] < 4.2))
    assert np.all(np.diff(out["voltage_V"]) < 0)  # a constant discharge: the voltage falls
    # conservation of charge: discharge capacity = I t, SOC falls by I t / the electrode-SOH window capacity
    np.testing.assert_allclose(out["discharge_capacity_Ah"], CURRENT_A * t / 3600, rtol=1e-9)
    np.testing.assert_allclose(out["soc"], INITIAL_SOC - CURRENT_A * t / 3600 / twin.window_capacity_Ah, atol=1e-9)

    # independent path: PyBaMM's own BPX reader and one PyBaMM solve of the same current
    values = pybamm.ParameterValues.create_from_bpx(bpx_path)
    values.update({"Current function [A]": CURRENT_A})
    sim = pybamm.Simulation(getattr(pybamm.lithium_ion, model_name)(), parameter_values=values,
                            solver=pybamm.IDAKLUSolver(rtol=1e-6, atol=1e-8))
    sol = sim.solve(t_eval=[0.0, t[-1]], t_interp=np.concatenate([[0.0], t]), initial_soc=INITIAL_SOC)
    assert sol.termination == "final time"
    ref_v = sol["Voltage [V]"](t)
    rms = _rms_mV(out["voltage_V"], ref_v)

    # the source cell: Chen2020 run directly, same twin set-up
    chen = _stepped(CellEchemTwin(model=model_name, parameter_set="Chen2020", initial_soc=INITIAL_SOC))
    rms_chen = _rms_mV(out["voltage_V"], chen["voltage_V"])
    max_chen = float(np.max(np.abs(out["voltage_V"] - chen["voltage_V"])) * 1e3)
    print(f"{model_name} BPX twin: {out['voltage_V'][0]:.4f} -> {out['voltage_V'][-1]:.4f} V; vs create_from_bpx "
          f"solve RMS {rms:.2g} mV; vs Chen2020 RMS {rms_chen:.3g} mV, max {max_chen:.3g} mV")
    assert rms < 4e-3  # measured 3e-4 (SPMe) and 1.1e-3 mV (DFN): the two solvers' adaptive steps differ
    # the 100-point linear OCP tables: measured 0.078-0.098 mV RMS, 0.34-0.41 mV max
    assert rms_chen < 0.15 and max_chen < 0.6


def test_bpx_chen2020_difference_is_the_ocp_tabulation(tmp_path) -> None:
    """10x more OCP table points shrink the BPX-vs-Chen2020 difference ~25x (towards the h^2 of
    linear interpolation): the difference is tabulation, not a convention mismatch."""
    ref = _stepped(CellEchemTwin(model="SPMe", parameter_set="Chen2020", initial_soc=INITIAL_SOC))
    rms = {}
    for points in (100, 1000):
        path = write_bpx(chen2020_bpx(ocp_points=points), tmp_path / f"ocp{points}.json")
        out = _stepped(CellEchemTwin(model="SPMe", bpx_file=path, initial_soc=INITIAL_SOC))
        rms[points] = _rms_mV(out["voltage_V"], ref["voltage_V"])
    print(f"SPMe BPX vs Chen2020 RMS: 100 OCP points {rms[100]:.3g} mV, 1000 points {rms[1000]:.3g} mV")
    assert rms[1000] < 0.02 and rms[1000] < rms[100] / 10


def test_bpx_cell_capacity_to_cut_off_equals_chen2020(bpx_path) -> None:
    """1C from SOC 0.9 to the 2.5 V cut-off: the BPX cell delivers Chen2020's charge (0.1 %)."""
    delivered = {}
    for kwargs in ({"bpx_file": bpx_path}, {"parameter_set": "Chen2020"}):
        twin = CellEchemTwin(model="SPMe", initial_soc=INITIAL_SOC, **kwargs)
        with pytest.raises(LimitReached, match="lower voltage cut-off") as info:
            for _ in range(200):
                twin.step(CURRENT_A, 30.0)
        assert info.value.event == "Minimum voltage [V]"
        assert info.value.outputs["voltage_V"][0] == pytest.approx(2.5, abs=1e-3)
        delivered[twin.parameter_set] = float(info.value.outputs["discharge_capacity_Ah"][0])
    bpx_ah, chen_ah = delivered["BPX:lgm50_chen2020.json"], delivered["Chen2020"]
    print(f"1C from SOC 0.9 to 2.5 V: BPX {bpx_ah:.4f} Ah, Chen2020 {chen_ah:.4f} Ah")
    assert 4.0 < chen_ah < 5.0
    assert bpx_ah == pytest.approx(chen_ah, rel=1e-3)


def test_lumped_thermal_bpx_cell_heats_like_chen2020(bpx_path) -> None:
    """The file's lumped density and heat capacity (thickness-weighted over Chen2020's layers, heat
    capacity per volume preserved), cooling area, volume and heat transfer coefficient: a 2C
    discharge of 20 min heats the BPX cell as much as Chen2020 (measured: 34.35 K both, 0.01 %)."""
    rise = {}
    for kwargs in ({"bpx_file": bpx_path}, {"parameter_set": "Chen2020"}):
        twin = CellEchemTwin(model="SPMe", thermal="lumped", initial_soc=INITIAL_SOC, **kwargs)
        out = twin.run(np.arange(61) * 20.0, np.full(60, 2 * CURRENT_A))
        rise[twin.parameter_set] = float(out["temperature_K"][-1] - 298.15)
    print(f"2C, 20 min, lumped: temperature rise BPX {rise['BPX:lgm50_chen2020.json']:.3f} K, "
          f"Chen2020 {rise['Chen2020']:.3f} K")
    assert rise["Chen2020"] > 10.0
    assert rise["BPX:lgm50_chen2020.json"] == pytest.approx(rise["Chen2020"], rel=1e-2)


# -- broken files --------------------------------------------------------------------------------

P = ("Parameterisation",)


@pytest.mark.parametrize("path, value, delete, named", [
    (P + ("Cell",), None, True, "Cell: Field required"),
    (P + ("Negative electrode", "Thickness [m]"), -85.2e-6, False, "Negative electrode.Thickness [m]: -8.52e-05"),
    (P + ("Separator", "Porosity"), 0.0, False, "Separator.Porosity: 0.0 is outside (0, 1)"),
    (P + ("Positive electrode", "Maximum stoichiometry"), 1.2, False, "Positive electrode.Maximum stoichiometry"),
    (P + ("Positive electrode", "OCP [V]"), {"x": [0.0, 0.5, 1.0], "y": [4.3, 3.5]}, False,
     "Positive electrode.OCP [V]"),
    (P + ("Separator", "Thicknes [m]"), 12e-6, False, "Separator.Thicknes [m]: Extra inputs are not permitted"),
    (P + ("Electrolyte", "Diffusivity [m2.s-1]"), "3e-10 * y", False, "Electrolyte.Diffusivity [m2.s-1]"),
    (P + ("Cell", "Lower voltage cut-off [V]"), 4.3, False, "Lower voltage cut-off [V]: 4.3 is not below"),
], ids=["missing-cell", "negative-thickness", "zero-porosity", "stoichiometry-above-1", "ocp-table-lengths",
        "misspelt-key", "bad-expression", "cut-offs-swapped"])
def test_broken_bpx_file_names_the_field(bpx_doc, tmp_path, path, value, delete, named) -> None:
    bad = write_bpx(broken(bpx_doc, path, value, delete=delete), tmp_path / "bad.json")
    with pytest.raises(ValueError, match="failed validation") as info:
        CellEchemTwin(model="SPMe", bpx_file=bad, initial_soc=INITIAL_SOC)
    assert named in str(info.value)
    assert "bad.json" in str(info.value)


def test_unreadable_bpx_file(tmp_path) -> None:
    bad = tmp_path / "truncated.json"
    bad.write_text('{"Header": {"BPX": "1.1.0"')
    with pytest.raises(ValueError, match="could not be read"):
        CellEchemTwin(bpx_file=bad)


# -- the FMU ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def echem_fmus(tmp_path_factory):
    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.registry import twin

    out = tmp_path_factory.mktemp("echem_bpx_fmu")
    return {v: build_python_fmu(twin("cell_echem"), v, out) for v in (2, 3)}


@pytest.fixture
def fmu_hosts():
    from _fmpy_host import FmpyHost

    hosts = []

    def make(path, **kwargs):
        hosts.append(FmpyHost(path, **kwargs))
        return hosts[-1]

    yield make
    for host in hosts:  # free every instance before its library can be unloaded
        host.close()
    import gc

    gc.collect()


@pytest.mark.parametrize("version", [2, 3])
def test_fmu_bpx_file_parameter(echem_fmus, fmu_hosts, bpx_path, bpx_doc, tmp_path, version: int) -> None:
    from fmpy.fmi1 import FMICallException

    n = 60
    host = fmu_hosts(echem_fmus[version])
    host.initialize(model="SPMe", bpxFile=str(bpx_path), parameterSet="not-used", initialSoc=INITIAL_SOC)
    got = []
    for _ in range(n):
        host.set(current=CURRENT_A)
        host.step(DT_S)
        got.append(host.get("batteryVoltage", "stateOfCharge"))
    got = np.array(got)
    ref = _stepped(CellEchemTwin(model="SPMe", bpx_file=bpx_path, initial_soc=INITIAL_SOC), n)
    np.testing.assert_allclose(got[:, 0], ref["voltage_V"], rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], ref["soc"], rtol=1e-9)
    # a broken file: initialization fails and the log names the field
    bad = write_bpx(broken(bpx_doc, P + ("Negative electrode", "Thickness [m]"), -1.0), tmp_path / "bad.json")
    failing = fmu_hosts(echem_fmus[version], instance="bad")
    with pytest.raises(FMICallException):
        failing.initialize(model="SPMe", bpxFile=str(bad))
    assert any("Negative electrode.Thickness [m]" in e for e in failing.errors()), failing.logs
