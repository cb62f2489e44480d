"""A PyBaMM cell model (SPM or SPMe) stepped for many cells at once, with each cell's end-of-step
voltage and its derivative in the cell's current: what a module's current split solves on.

Why not PyBaMM's own solvers: the split evaluates every cell at trial currents, a few times a
step, and its Newton iteration needs dV/dI; an IDAKLU solve per cell and trial costs about 1 ms
(``CellEchemTwin``), and CasADi's CVODES with forward sensitivities 4 ms (measured here). So:

* PyBaMM builds and discretises the model (any parameter set or BPX file, its default or a given
  mesh), isothermal with its heat source computed; the current, the cell temperature (PyBaMM's
  "Ambient temperature [K]", which an isothermal cell follows) and the two electrodes' initial
  concentrations are input parameters; ``export_casadi_objects`` gives the right-hand side, the
  voltage, the heat and the initial state as CasADi expressions. SPM and SPMe have no algebraic
  states; a model with them (DFN) is refused.
* A step of dt is ``substeps`` steps of ROS2, the two-stage Rosenbrock method of Verwer et al.
  (1999; second order, L-stable, gamma = 1 + 1/sqrt(2)): per substep one Jacobian of the
  right-hand side and two sparse linear solves with one matrix, (I - gamma h J) k1 = f(x),
  (I - gamma h J) k2 = f(x + h k1) - 2 k1, x' = x + h (3 k1 + k2) / 2. It is linearly implicit (no
  inner iteration), so the end state is a smooth function of the current and dV/dI is its exact
  derivative (CasADi forward AD through the substeps).
* The step is compiled once with gcc (CasADi's JIT) and mapped over the cells in threads.

Sign convention: positive current discharges the cell.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.twins.cell_echem import AMBIENT_INPUT, CURRENT_INPUT, _pybamm, electrode_soh, parameter_values

#: the models this batch steps (no algebraic states)
BATCH_MODELS = ("SPM", "SPMe")
INITIAL_CONCENTRATION = {"n": "Initial concentration in negative electrode [mol.m-3]",
                         "p": "Initial concentration in positive electrode [mol.m-3]"}
#: the PyBaMM model options of every batch cell
MODEL_OPTIONS = {"thermal": "isothermal", "calculate heat source for isothermal models": "true"}
MAX_CONCENTRATION = {"n": "Maximum concentration in negative electrode [mol.m-3]",
                     "p": "Maximum concentration in positive electrode [mol.m-3]"}
#: the PyBaMM variables a step returns (at its end), by the name :meth:`EchemBatch.step` gives them
OUTPUTS = {"Voltage [V]": "voltage_V", "Total heating [W]": "heat_W", "Discharge capacity [A.h]": "discharged_Ah",
           "X-averaged negative particle surface stoichiometry": "negative_surface_stoichiometry",
           "X-averaged positive particle surface stoichiometry": "positive_surface_stoichiometry"}
#: ROS2's gamma
GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


class EchemBatch:
    """``n_cells`` cells of one PyBaMM model and parameter set, stepped together.

    Parameters
    ----------
    model:
        ``"SPM"`` or ``"SPMe"``.
    parameter_set, bpx_file:
        A PyBaMM parameter-set name, or a BPX file (which wins).
    n_cells:
        How many cells each call steps.
    substeps:
        ROS2 substeps per step.
    var_pts:
        Mesh sizes (PyBaMM's defaults otherwise).
    threads:
        Threads of the mapped step.
    """

    def __init__(self, model: str = "SPMe", parameter_set: str = "Chen2020", bpx_file: str | Path | None = None,
                 n_cells: int = 1, substeps: int = 2, var_pts: Mapping[str, int] | None = None,
                 threads: int = 2) -> None:
        import casadi as ca

        pybamm = _pybamm()
        if model not in BATCH_MODELS:
            raise ValueError(f"model: {model!r}; a module of electrochemical cells takes {', '.join(BATCH_MODELS)}")
        if int(substeps) < 1:
            raise ValueError(f"substeps: {substeps!r} must be at least 1")
        values, self.parameter_set = parameter_values(parameter_set, bpx_file)
        self.model_name, self.n_cells, self.substeps = model, int(n_cells), int(substeps)
        pybamm_model = getattr(pybamm.lithium_ion, model)(options=dict(MODEL_OPTIONS))
        self.electrode_soh = electrode_soh(values, pybamm_model.param, pybamm_model.options)
        self.window_capacity_Ah = self.electrode_soh["capacity_Ah"]
        self.nominal_capacity_Ah = float(values["Nominal cell capacity [A.h]"])
        self.c_max = {k: float(values[name]) for k, name in MAX_CONCENTRATION.items()}
        self.voltage_limits_V = (float(values["Lower voltage cut-off [V]"]), float(values["Upper voltage cut-off [V]"]))
        inputs = [CURRENT_INPUT, AMBIENT_INPUT, INITIAL_CONCENTRATION["n"], INITIAL_CONCENTRATION["p"]]
        values.update({name: "[input]" for name in inputs})
        sim = pybamm.Simulation(pybamm_model, parameter_values=values, var_pts=dict(var_pts) if var_pts else None)
        sim.build(inputs=dict(zip(inputs, [0.0, 298.15, *self._concentrations(0.5)])))
        objs = sim.built_model.export_casadi_objects(list(OUTPUTS), input_parameter_order=inputs)
        if objs["z"].shape[0]:
            raise ValueError(f"{model}: {objs['z'].shape[0]} algebraic states; the batch steps ODE models only")
        x, p, t = objs["x"], objs["inputs"], objs["t"]
        self.n_states = x.shape[0]
        rhs = ca.Function("rhs", [x, p], [ca.substitute(objs["rhs"], t, 0.0)])
        if set(rhs.sparsity_jac(1, 0).get_triplet()[1]) & {2, 3}:  # columns of the initial concentrations
            raise ValueError(f"{model}: the right-hand side depends on the initial concentrations")
        outputs = ca.Function("outputs", [x, p], [ca.substitute(ca.vertcat(*[objs["variables"][k] for k in OUTPUTS]),
                                                                t, 0.0)])
        self._initial = ca.Function("x0", [p], [objs["x0"]])
        self._step = _compiled(self._step_function(rhs, outputs), self.n_cells, threads)

    def _concentrations(self, soc: Any) -> tuple[Any, Any]:
        """The electrodes' initial concentrations at ``soc`` over the electrode-SOH window (the
        stoichiometries are affine in it, PyBaMM's initial_soc definition)."""
        soh = self.electrode_soh
        x = soh["x_0"] + soc * (soh["x_100"] - soh["x_0"])
        y = soh["y_0"] - soc * (soh["y_0"] - soh["y_100"])
        return x * self.c_max["n"], y * self.c_max["p"]

    def _step_function(self, rhs: Any, outputs: Any) -> Any:
        """(x, current, temperature, dt) -> (x', voltage, dV/dI, heat, discharged Ah) of one cell."""
        import casadi as ca

        x = ca.MX.sym("x", self.n_states)
        current, temperature, dt = ca.MX.sym("current"), ca.MX.sym("temperature"), ca.MX.sym("dt")
        p = ca.vertcat(current, temperature, 0.0, 0.0)
        xs, ps = ca.MX.sym("xs", self.n_states), ca.MX.sym("ps", 4)
        jac = ca.Function("rhs_jacobian", [xs, ps], [ca.jacobian(rhs(xs, ps), xs)])
        h = dt / self.substeps
        state = x
        eye = ca.DM.eye(self.n_states)
        for _ in range(self.substeps):
            matrix = eye - GAMMA * h * jac(state, p)
            k1 = ca.solve(matrix, rhs(state, p), "qr")
            k2 = ca.solve(matrix, rhs(state + h * k1, p) - 2.0 * k1, "qr")
            state = state + h * (1.5 * k1 + 0.5 * k2)
        out = outputs(state, p)
        return ca.Function("cell_step", [x, current, temperature, dt], [state, ca.jacobian(out[0], current), out],
                           ["x", "current", "temperature", "dt"], ["x_next", "dv_di", "outputs"])

    def initial_state(self, soc: Any) -> np.ndarray:
        """The cells' initial states (one column per cell) at their SOCs."""
        soc = np.broadcast_to(np.asarray(soc, dtype=float), (self.n_cells,))
        c_n, c_p = self._concentrations(soc)
        return np.column_stack([np.asarray(self._initial([0.0, 298.15, c_n[i], c_p[i]])).ravel()
                                for i in range(self.n_cells)])

    def step(self, x: np.ndarray, current_A: Any, temperature_K: Any, dt_s: float) -> dict[str, np.ndarray]:
        """One step of every cell at its current (positive = discharge) and temperature: the new
        states ``x`` and, at the end of the step, :data:`OUTPUTS` (voltage [V], heat [W], charge
        discharged since the start [Ah], the electrodes' surface stoichiometries) and
        ``dv_di_ohm``, the voltage's derivative in the current [V/A]."""
        n = self.n_cells
        row = [np.broadcast_to(np.asarray(v, dtype=float), (n,)).reshape(1, n) for v in (current_A, temperature_K)]
        x_next, dv_di, out = self._step(x, row[0], row[1], np.full((1, n), float(dt_s)))
        out = np.asarray(out).reshape(len(OUTPUTS), n)
        return {"x": np.asarray(x_next), "dv_di_ohm": np.asarray(dv_di).ravel(),
                **{key: out[k] for k, key in enumerate(OUTPUTS.values())}}


def _compiled(function: Any, n: int, threads: int) -> Any:
    """``function`` compiled by gcc (CasADi's JIT, in a temporary folder) and mapped over ``n``
    cells in ``threads`` threads."""
    import casadi as ca

    # the loaded library outlives its folder; CasADi is told not to remove the files itself
    with tempfile.TemporaryDirectory(prefix="fmutwin_echem_jit_") as folder:
        compiled = ca.Function(function.name(), function.mx_in(), function.call(function.mx_in()),
                               function.name_in(), function.name_out(),
                               {"jit": True, "compiler": "shell", "jit_cleanup": False,
                                "jit_options": {"compiler": "gcc", "flags": ["-O2"], "directory": folder + "/",
                                                "cleanup": False}})
    return compiled.map(n, "thread", max(1, int(threads))) if n > 1 else compiled
