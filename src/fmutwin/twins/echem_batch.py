"""A PyBaMM cell model (SPM or SPMe) stepped for many cells at once, with each cell's end-of-step
voltage and its derivative in the cell's current: what a module's current split solves on.

Why not PyBaMM's own solvers: the split evaluates every cell at trial currents, a few times a
step, and its Newton iteration needs dV/dI; an IDAKLU solve per cell and trial costs about 1 ms
(``CellEchemTwin``), and CasADi's CVODES with forward sensitivities 4 ms (measured here). So:

* PyBaMM builds and discretises the model, isothermal with its heat source computed, and exports
  it to CasADi (:class:`~fmutwin.twins.echem_casadi.EchemCasadi`); the cell temperature is
  PyBaMM's "Ambient temperature [K]", which an isothermal cell follows.
* A step of dt is ``substeps`` steps of a fixed-step scheme (:func:`fmutwin.implicit_steps.implicit_step`;
  by default ROS2, the two-stage Rosenbrock method of Verwer et al. 1999, second order, L-stable:
  per substep one Jacobian of the right-hand side and two sparse linear solves, no inner
  iteration), so the end state is a smooth function of the current and dV/dI is its exact
  derivative (CasADi forward AD through the substeps).
* The step is compiled once with gcc (CasADi's JIT) and mapped over the cells in threads.

Sign convention: positive current discharges the cell.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fmutwin.implicit_steps import implicit_step
from fmutwin.twins.echem_casadi import ODE_MODELS, THERMAL_OPTIONS, EchemCasadi

#: the models this batch steps (no algebraic states)
BATCH_MODELS = ODE_MODELS
#: the PyBaMM model options of every batch cell
MODEL_OPTIONS = THERMAL_OPTIONS["isothermal"]
#: the PyBaMM variables a step returns (at its end), by the name :meth:`EchemBatch.step` gives them
OUTPUTS = {"Voltage [V]": "voltage_V", "Total heating [W]": "heat_W", "Discharge capacity [A.h]": "discharged_Ah",
           "X-averaged negative particle surface stoichiometry": "negative_surface_stoichiometry",
           "X-averaged positive particle surface stoichiometry": "positive_surface_stoichiometry"}


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
        Substeps per step.
    scheme, newton_iterations:
        The fixed-step scheme of :func:`fmutwin.implicit_steps.implicit_step` (ROS2 by default;
        every scheme is a smooth function of the current, so dV/dI is exact).
    var_pts:
        Mesh sizes (PyBaMM's defaults otherwise).
    threads:
        Threads of the mapped step.
    """

    def __init__(self, model: str = "SPMe", parameter_set: str = "Chen2020", bpx_file: str | Path | None = None,
                 n_cells: int = 1, substeps: int = 2, var_pts: Mapping[str, int] | None = None,
                 threads: int = 2, scheme: str = "ros2", newton_iterations: int = 1) -> None:
        if model not in BATCH_MODELS:
            raise ValueError(f"model: {model!r}; a module of electrochemical cells takes {', '.join(BATCH_MODELS)}")
        if int(substeps) < 1:
            raise ValueError(f"substeps: {substeps!r} must be at least 1")
        # the MX form: compiled in 4 s instead of 12 s at the same batch step time (measured, SPMe)
        self.cell = EchemCasadi(model, parameter_set, bpx_file, list(OUTPUTS), "isothermal", var_pts, expand=False)
        self.parameter_set, self.model_name = self.cell.parameter_set, model
        self.n_cells, self.substeps = int(n_cells), int(substeps)
        self.scheme, self.newton_iterations = scheme, int(newton_iterations)
        self.electrode_soh = self.cell.electrode_soh
        self.window_capacity_Ah = self.cell.window_capacity_Ah
        self.nominal_capacity_Ah = self.cell.nominal_capacity_Ah
        self.voltage_limits_V = self.cell.voltage_limits_V
        self.n_states = self.cell.n_states
        self.function = self._step_function()
        self.threads = threads
        self._step: Any = None  # compiled at the first step (a native export needs only the function)

    def _step_function(self) -> Any:
        """(x, current, temperature, dt) -> (x', voltage, dV/dI, heat, discharged Ah) of one cell."""
        import casadi as ca

        x = ca.MX.sym("x", self.n_states)
        current, temperature, dt = ca.MX.sym("current"), ca.MX.sym("temperature"), ca.MX.sym("dt")
        p = ca.vertcat(*self.cell.inputs(current, temperature, 0.0).values())  # the step ignores the initial state
        state = implicit_step(self.cell.rhs, x, p, dt, self.scheme, self.substeps, self.newton_iterations)
        out = self.cell.outputs(state, p)
        return ca.Function("cell_step", [x, current, temperature, dt], [state, ca.jacobian(out[0], current), out],
                           ["x", "current", "temperature", "dt"], ["x_next", "dv_di", "outputs"])

    def initial_state(self, soc: Any) -> np.ndarray:
        """The cells' initial states (one column per cell) at their SOCs."""
        soc = np.broadcast_to(np.asarray(soc, dtype=float), (self.n_cells,))
        return np.column_stack([np.asarray(self.cell.initial(list(self.cell.inputs(0.0, 298.15, s).values()))).ravel()
                                for s in soc])

    def step(self, x: np.ndarray, current_A: Any, temperature_K: Any, dt_s: float) -> dict[str, np.ndarray]:
        """One step of every cell at its current (positive = discharge) and temperature: the new
        states ``x`` and, at the end of the step, :data:`OUTPUTS` (voltage [V], heat [W], charge
        discharged since the start [Ah], the electrodes' surface stoichiometries) and
        ``dv_di_ohm``, the voltage's derivative in the current [V/A]."""
        n = self.n_cells
        if self._step is None:
            self._step = _compiled(self.function, n, self.threads)
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
