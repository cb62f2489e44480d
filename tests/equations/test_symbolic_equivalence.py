"""The CasADi forms of the full cell step (every feature on) equal the numpy form to 1e-12: SX (the
reference symbolic form, Jacobians) and MX (the form generated C runs: tables read in place, a
table's cumulative integral computed once per parameter set by ``derive``)."""

from __future__ import annotations

import numpy as np
import pytest

from cells import all_features
from fmutwin.equations import cell
from fmutwin.ops import NUMPY
from fmutwin.symbolic import symbolic_step
from fmutwin.twins.cell_ecm import equation_parameters


def _perturb(p: dict, rng: np.random.Generator) -> dict:
    """Random parameters of the same layout: table values and scalars scaled by U(0.8, 1.2)."""
    out = {}
    for key, value in p.items():
        if isinstance(value, dict):
            out[key] = {k: (v if k != "values" else np.asarray(v) * rng.uniform(0.8, 1.2, np.shape(v)))
                        for k, v in value.items()}
        elif key.endswith("trigger_kind") or key in ("series_open_circuit", "storage_variable_is_ocv"):
            out[key] = value
        else:
            out[key] = value * rng.uniform(0.8, 1.2)
    return out


def _ocv_over_temperature(params):
    """The same set with a 2-D OCV table (SOC x temperature, linear extrapolation): the mean over
    SOC then goes column by column."""
    return params.with_changes(ocv_V={"soc": [0.0, 0.3, 0.7, 1.0], "temperature_K": [270.0, 300.0, 320.0],
                                      "values": [[3.0, 3.05, 3.1], [3.5, 3.55, 3.6], [3.8, 3.85, 3.9],
                                                 [4.1, 4.15, 4.2]], "extrapolation": "linear"})


@pytest.mark.parametrize("kind, ocv", [("SX", "1d"), ("MX", "1d"), ("MX", "2d")])
def test_casadi_step_equals_numpy_step_on_random_points(rng, kind, ocv):
    params = all_features() if ocv == "1d" else _ocv_over_temperature(all_features())
    structure, p0 = equation_parameters(params)
    assert all([structure.hysteresis, structure.self_discharge, structure.cycling_aging, structure.calendar_aging,
                structure.internal_short, structure.series_resistance, structure.exothermic_reaction,
                structure.current_interruption, structure.n_rc == 3, structure.n_nodes == 3])
    sym = symbolic_step(cell.step, structure, p0, structure.state_names(), cell.INPUTS, kind=kind)
    if kind == "MX":  # derive(p) holds the OCV table's cumulative integral (one per column in 2-D)
        assert sym.derive.size1_out(0) == len(p0["ocv_V"]["soc"]) * max(1, len(p0["ocv_V"].get("temperature_K", [])))
    n = 200
    got_x, got_y, ref_x, ref_y = [], [], [], []
    for _ in range(n):
        p = _perturb(p0, rng)
        x = {name: rng.uniform(-0.02, 0.02) for name in sym.state_names}
        x.update(time_s=rng.uniform(0, 10), soc=rng.uniform(0.05, 0.95), hysteresis_state=rng.uniform(-1, 1),
                 hysteresis_sign=rng.choice([-1.0, 1.0]), num_cycles=rng.uniform(0, 2000),
                 reaction_extent=rng.uniform(0, 1), internal_short_active=float(rng.integers(0, 2)),
                 series_resistance_active=float(rng.integers(0, 2)), exotherm_active=float(rng.integers(0, 2)),
                 current_interrupted=float(rng.random() < 0.2), terminal_energy_J=rng.uniform(-1e4, 1e4),
                 heat_generated_J=rng.uniform(0, 1e3))
        for k in range(structure.n_nodes):
            x[f"node_temperature_{k + 1}_K"] = rng.uniform(260, 420)
        u = {"current_A": rng.choice([0.0, rng.uniform(-300, 300)]), "ambient_temperature_K": rng.uniform(250, 330),
             "heat_flow_W": rng.uniform(-20, 20), "dt_s": rng.choice([0.01, 1.0, rng.uniform(0.1, 60)])}
        xn, y = cell.step(NUMPY, structure, p, {k: np.array([v]) for k, v in x.items()},
                          {k: (np.array([v]) if k != "dt_s" else v) for k, v in u.items()})
        ref_x.append([float(np.ravel(xn[k])[0]) for k in sym.state_names])
        ref_y.append([float(np.ravel(y[k])[0]) for k in sym.output_names])
        cx, cy = sym([x[k] for k in sym.state_names], [u[k] for k in sym.input_names], sym.layout.pack(p))
        got_x.append(np.asarray(cx).ravel())
        got_y.append(np.asarray(cy).ravel())
    for got, ref, names in ((got_x, ref_x, sym.state_names), (got_y, ref_y, sym.output_names)):
        got, ref = np.array(got), np.array(ref)
        assert np.all(np.isfinite(ref)), "numpy step produced non-finite values on valid inputs"
        for j, name in enumerate(names):
            scale = np.max(np.abs(ref[:, j]))  # outputs that are sums of large terms cancel
            np.testing.assert_allclose(got[:, j], ref[:, j], rtol=1e-12, atol=1e-12 * scale, err_msg=name)
    # the comparison covers behaviour, not just zeros: features were active on these points
    y = np.array(ref_y)
    for name in ("reaction_heat_W", "hysteresis_state", "rc_voltage_3_V", "reversible_heat_W"):
        assert np.ptp(y[:, sym.output_names.index(name)]) > 0, name


def test_jacobian_of_the_step_exists_and_is_finite():
    import casadi as ca

    params = all_features()
    structure, p = equation_parameters(params)
    sym = symbolic_step(cell.step, structure, p, structure.state_names(), cell.INPUTS)
    x = ca.SX.sym("x", len(sym.state_names))
    jac = ca.Function("J", [x], [ca.jacobian(sym.function(x, [10.0, 298.15, 0.0, 1.0], sym.layout.pack(p))[0], x)])
    x0 = {k: np.atleast_1d(v) for k, v in cell.initial_state(NUMPY, structure, p).items()}
    x0["num_cycles"][:] = 100.0
    J = np.array(jac([x0[k][0] for k in sym.state_names]))
    assert np.all(np.isfinite(J))
    # d soc_next / d soc = 1 (coulomb counting): an independent sanity check of the derivative
    i = sym.state_names.index("soc")
    assert abs(J[i, i] - 1.0) < 1e-3
