"""fmutwin's 1-, 2- and 3-RC cell against PyBaMM's Thevenin equivalent-circuit model.

Acceptance point: with the same parameters and current, the cell twin matches
``pybamm.equivalent_circuit.Thevenin`` within 1 mV over a US06 cycle. Measured (pybamm 26.10):
max |dV| 0.049 uV (1 RC), 1.05 uV (2 RC), 1.09 uV (3 RC) -- fmutwin holds a table's value over a
step, PyBaMM follows the SOC-dependent R2 continuously -- and |dSoC| < 1e-14; the tolerances
below are 3-4x that, so that a time constant off by 5 % or R0 off by 1 % (0.8 mV) fails.

Both models are built from one :class:`CellParameters`: PyBaMM's interpolants are made from the
very grids and values of fmutwin's tables, so the two codes share numbers but no evaluation code.

* Tables: PyBaMM's ECM example as converted by fmutwin (OCV over SOC; R0, R1, tau1 over
  (SOC, T)), discharge tables only (PyBaMM's example has one table over current; fmutwin's
  ``*_charge_*`` tables are dropped so both models use the same values in both directions).
  Extra branches with their own table shapes: R2 over SOC only with tau2 = 300 s constant;
  R3 = 0.3 R1 over (SOC, T) with tau3 over temperature only (~3 s at 25 degC).
* PyBaMM wants R_i and C_i; C_i is given as tau_i / R_i of the two interpolants. (Interpolating
  a tabulated C_i = tau_i / R_i separately would make PyBaMM's tau = R C differ from the
  tabulated tau between grid points, ~2 % at 25 degC for this R1, i.e. a different model.)
* Isothermal: fmutwin's thermal model ``constant`` at 298.15 K with no entropic coefficient;
  PyBaMM with thermal masses of 1e12 J/K and no entropic change (checked: its temperature stays
  within 1e-3 K of 298.15 K).
* Current: US06 scaled to the 100 Ah cell (peak ~81 A), held constant over every 1 s interval
  as ``CellECMTwin.run`` does; PyBaMM gets it as an input parameter and is stepped one interval
  at a time (checked: the current PyBaMM reports is the intended one on every interval).
* Initial SoC 0.5 in both (PyBaMM's example default).

fmutwin holds table values at their start-of-step value inside a step while PyBaMM integrates
continuously, so the models are compared at the 1 s communication points only.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pybamm  # a declared test dependency: fail loudly rather than skip the acceptance test
import pytest

from fmutwin.data import drive_cycle
from fmutwin.params import CellParameters, default_cell_parameters
from fmutwin.params.tables import Table
from fmutwin.twins.cell_ecm import CellECMTwin

KELVIN = 273.15
T_AMBIENT_K = 298.15
INITIAL_SOC = 0.5
VOLTAGE_TOL_V = {1: 0.2e-6, 2: 4e-6, 3: 4e-6}  # max |dV| by number of RC pairs (see the module docstring)
SOC_TOL = 5e-14


# -- one parameter set for both models ------------------------------------------------------------

def cell_parameters(n_rc: int) -> CellParameters:
    """PyBaMM's ECM example (as shipped by fmutwin), discharge tables only, n_rc RC branches."""
    d = default_cell_parameters().model_dump(exclude_none=True)
    d.pop("r0_charge_ohm", None)
    branch1 = {k: v for k, v in d["rc_branches"][0].items() if "charge" not in k}
    r1 = Table.model_validate(branch1["resistance_ohm"])
    branch2 = {  # SOC-only resistance with a clear slope through the SOC range of the cycle
        "resistance_ohm": {"soc": [0.0, 0.3, 0.45, 0.5, 0.7, 1.0],
                           "values": [9e-4, 6e-4, 4.5e-4, 3.5e-4, 4e-4, 7e-4]},
        "time_constant_s": 300.0,
    }
    branch3 = {  # (SOC, T) resistance, time constant over temperature only
        "resistance_ohm": r1.scaled(0.3).model_dump(exclude_none=True),
        "time_constant_s": {"temperature_K": [263.15, 313.15], "values": [4.0, 2.5]},
    }
    d["rc_branches"] = [branch1, branch2, branch3][:n_rc]
    d["entropic_coefficient_V_per_K"] = 0.0
    d["thermal"] = {"model": "constant", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0}
    d["initial"] = {"soc": INITIAL_SOC, "temperature_K": T_AMBIENT_K}
    d["name"] = f"pybamm_ecm_example_{n_rc}rc_discharge_tables"
    return CellParameters.from_dict(d)


def pybamm_function(table: Table) -> Callable[[Any, Any, Any], Any]:
    """A PyBaMM ECM element function f(T_cell [degC], current [A], SoC) of a fmutwin table.

    Same grids and values; PyBaMM evaluates it with its own (CasADi) linear interpolants. The
    current argument is ignored, as fmutwin's tables do not depend on it.
    """
    values = table.array
    soc_grid = None if table.soc is None else np.asarray(table.soc, dtype=float)
    t_grid = None if table.temperature_K is None else np.asarray(table.temperature_K, dtype=float)

    def f(t_cell_degc: Any, current_a: Any, soc: Any) -> Any:
        t_kelvin = t_cell_degc + KELVIN
        if soc_grid is not None and t_grid is not None:
            return pybamm.Interpolant((soc_grid, t_grid), values, [soc, t_kelvin], interpolator="linear")
        if soc_grid is not None:
            return pybamm.Interpolant(soc_grid, values, soc, interpolator="linear")
        if t_grid is not None:
            return pybamm.Interpolant(t_grid, values, t_kelvin, interpolator="linear")
        return pybamm.Scalar(float(values))

    return f


def capacitance_function(resistance: Table, time_constant: Table) -> Callable[[Any, Any, Any], Any]:
    """C_i [F] = tau_i / R_i, both interpolated on their own grids (so R_i C_i = tau_i exactly)."""
    r_fn, tau_fn = pybamm_function(resistance), pybamm_function(time_constant)
    return lambda t_cell, current, soc: tau_fn(t_cell, current, soc) / r_fn(t_cell, current, soc)


def pybamm_parameter_values(params: CellParameters) -> Any:
    """PyBaMM's ECM example parameter values with every number replaced by fmutwin's."""
    assert params.r0_charge_ohm is None and params.entropic_coefficient_V_per_K == 0.0
    pv = pybamm.ParameterValues("ECM_Example")
    ocv_soc, ocv_v = np.asarray(params.ocv_V.soc, dtype=float), params.ocv_V.array
    pv.update({
        "Cell capacity [A.h]": params.nominal_capacity_As / 3600.0,
        "Nominal cell capacity [A.h]": params.nominal_capacity_As / 3600.0,
        "Initial SoC": params.initial.soc,
        "Initial temperature [K]": T_AMBIENT_K,
        "Ambient temperature [K]": T_AMBIENT_K,
        "Open-circuit voltage [V]": lambda soc: pybamm.Interpolant(ocv_soc, ocv_v, soc, interpolator="linear"),
        "R0 [Ohm]": pybamm_function(params.r0_ohm),
        "Entropic change [V/K]": 0.0,
        "Cell thermal mass [J/K]": 1e12,
        "Jig thermal mass [J/K]": 1e12,
        "Upper voltage cut-off [V]": 5.0,
        "Lower voltage cut-off [V]": 2.0,
        "Current function [A]": "[input]",
    })
    for i, branch in enumerate(params.rc_branches, start=1):
        assert branch.resistance_charge_ohm is None and branch.time_constant_charge_s is None
        pv.update({
            f"R{i} [Ohm]": pybamm_function(branch.resistance_ohm),
            f"C{i} [F]": capacitance_function(branch.resistance_ohm, branch.time_constant_s),
            f"Element-{i} initial overpotential [V]": 0.0,
        }, check_already_exists=False)
    return pv


# -- the two runs ---------------------------------------------------------------------------------

def run_pybamm(params: CellParameters, time_s: np.ndarray, current_a: np.ndarray) -> dict[str, np.ndarray]:
    """Step PyBaMM through the profile, current[k] held from time[k] to time[k+1].

    Returns voltage, SoC and cell temperature at time[1:], and the current PyBaMM reports over
    each interval (min and max over the interval's output points).
    """
    model = pybamm.equivalent_circuit.Thevenin(options={"number of rc elements": len(params.rc_branches)})
    solver = pybamm.IDAKLUSolver(rtol=1e-9, atol=1e-10)
    sim = pybamm.Simulation(model, parameter_values=pybamm_parameter_values(params), solver=solver)
    n = len(time_s) - 1
    out = {k: np.empty(n) for k in ("voltage_V", "soc", "temperature_K", "current_min_A", "current_max_A")}
    for k in range(n):
        dt = float(time_s[k + 1] - time_s[k])
        sol = sim.step(dt=dt, t_eval=np.linspace(0.0, dt, 5), inputs={"Current function [A]": float(current_a[k])},
                       save=False)
        assert sol.termination == "final time", f"PyBaMM stopped at step {k}: {sol.termination}"
        assert sol["Time [s]"].entries[-1] == pytest.approx(time_s[k + 1], abs=1e-9)
        reported = sol["Current [A]"].entries
        out["current_min_A"][k], out["current_max_A"][k] = reported.min(), reported.max()
        out["voltage_V"][k] = sol["Voltage [V]"].entries[-1]
        out["soc"][k] = sol["SoC"].entries[-1]
        out["temperature_K"][k] = sol["Cell temperature [K]"].entries[-1]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("n_rc", [1, 2, 3])
def test_matches_pybamm_thevenin_over_us06(n_rc: int) -> None:
    time_s, current_a = drive_cycle("US06", scale=10.0)
    assert np.allclose(np.diff(time_s), 1.0)
    assert current_a.max() > 70.0 and current_a.min() < -30.0  # both directions, realistic peaks
    params = cell_parameters(n_rc)

    start = time.perf_counter()
    ours = CellECMTwin(params).run(time_s, current_a, ambient_temperature_K=T_AMBIENT_K)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    ref = run_pybamm(params, time_s, current_a)
    t_ref = time.perf_counter() - start

    # the comparison's assumptions hold: same current, isothermal, tables used inside their grids
    np.testing.assert_allclose(ref["current_min_A"], current_a[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ref["current_max_A"], current_a[:-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours["current_A"], current_a[:-1], rtol=0, atol=0)
    assert np.max(np.abs(ref["temperature_K"] - T_AMBIENT_K)) < 1e-3
    assert np.all(ours["temperature_K"] == T_AMBIENT_K)
    assert 0.0 < ref["soc"].min() and ref["soc"].max() < 1.0

    soc_err = np.max(np.abs(ours["soc"] - ref["soc"]))
    err = ours["voltage_V"] - ref["voltage_V"]
    max_err, rms_err = np.max(np.abs(err)), np.sqrt(np.mean(err ** 2))
    summary = (f"{n_rc} RC over US06 ({len(err)} points): max |dV| = {max_err * 1e6:.3f} uV at "
               f"t = {time_s[1 + np.argmax(np.abs(err))]:.0f} s, RMS = {rms_err * 1e6:.3f} uV, "
               f"max |dSoC| = {soc_err:.2e}; runtime fmutwin {t_ours:.2f} s, PyBaMM {t_ref:.2f} s")
    print(summary)

    v_range = np.ptp(ref["voltage_V"])
    assert v_range > 0.02 and np.ptp(ours["voltage_V"]) > 0.02, f"voltage barely moves ({v_range * 1e3:.1f} mV)"
    assert soc_err < SOC_TOL, summary
    assert max_err < VOLTAGE_TOL_V[n_rc], summary
