"""A PyBaMM cell model (SPM or SPMe) as CasADi functions: what the electrochemical module's cell
batch and the native electrochemical FMU step with fixed-step implicit schemes
(:mod:`fmutwin.implicit_steps`) instead of PyBaMM's solvers.

PyBaMM builds and discretises the model (any parameter set or BPX file, its default or a given
mesh); the current, the ambient temperature (which an isothermal cell follows), the electrodes'
initial concentrations and, for a lumped thermal model, the external heat flow and the initial
temperature are PyBaMM input parameters, and so are any parameters named as run-time
parameters. ``export_casadi_objects`` gives the right-hand side, the output variables and the
initial state as CasADi expressions. SPM and SPMe have no algebraic states; a model with them
(DFN) is refused. Positive current discharges the cell.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from fmutwin.twins.cell_echem import (AMBIENT_INPUT, CURRENT_INPUT, HEAT_FLOW_INPUT, CellEchemTwin, _pybamm,
                                      electrode_soh, parameter_values)

#: the models stepped this way (no algebraic states)
ODE_MODELS = ("SPM", "SPMe")
INITIAL_CONCENTRATION = {"n": "Initial concentration in negative electrode [mol.m-3]",
                         "p": "Initial concentration in positive electrode [mol.m-3]"}
INITIAL_TEMPERATURE = "Initial temperature [K]"
MAX_CONCENTRATION = {"n": "Maximum concentration in negative electrode [mol.m-3]",
                     "p": "Maximum concentration in positive electrode [mol.m-3]"}
THERMAL_OPTIONS = {"isothermal": {"thermal": "isothermal", "calculate heat source for isothermal models": "true"},
                   "lumped": {"thermal": "lumped"}}


class EchemCasadi:
    """One PyBaMM SPM or SPMe cell as CasADi functions of (state, inputs).

    ``expand``: the right-hand side and outputs as scalar expressions (SX) where they can be:
    generated C twice as fast per step, three times as long to compile (the native FMU expands;
    the module's JIT-compiled batch does not).

    ``inputs`` orders the PyBaMM input parameters: :attr:`input_names` (current, ambient
    temperature, [heat flow, initial temperature,] the two initial concentrations, then the
    ``run_time_parameters``). :attr:`rhs` is (x, inputs) -> dx/dt, :attr:`outputs` (x, inputs)
    -> the ``output_variables`` in order, :attr:`initial` inputs -> x0.
    """

    def __init__(self, model: str = "SPMe", parameter_set: str = "Chen2020", bpx_file: Any = None,
                 output_variables: Sequence[str] = ("Voltage [V]",), thermal: str = "isothermal",
                 var_pts: Mapping[str, int] | None = None, run_time_parameters: Sequence[str] = (),
                 expand: bool = True) -> None:
        import casadi as ca

        pybamm = _pybamm()
        if model not in ODE_MODELS:
            raise ValueError(f"model: {model!r}; stepping without PyBaMM's solvers takes {', '.join(ODE_MODELS)} "
                             "(models without algebraic states)")
        if thermal not in THERMAL_OPTIONS:
            raise ValueError(f"thermal: {thermal!r}; valid: {', '.join(THERMAL_OPTIONS)}")
        values, self.parameter_set = parameter_values(parameter_set, bpx_file)
        unknown = [name for name in run_time_parameters if name not in values.keys()]
        if unknown:
            raise ValueError(f"run-time parameters {unknown} are not parameters of {self.parameter_set}")
        pybamm_model = getattr(pybamm.lithium_ion, model)(options=dict(THERMAL_OPTIONS[thermal]))
        self.run_time_defaults = {name: float(values[name]) for name in run_time_parameters}
        self.electrode_soh = electrode_soh(values, pybamm_model.param, pybamm_model.options)
        self.window_capacity_Ah = self.electrode_soh["capacity_Ah"]
        self.nominal_capacity_Ah = float(values["Nominal cell capacity [A.h]"])
        self.c_max = {k: float(values[name]) for k, name in MAX_CONCENTRATION.items()}
        self.voltage_limits_V = (float(values["Lower voltage cut-off [V]"]), float(values["Upper voltage cut-off [V]"]))
        names = [CURRENT_INPUT, AMBIENT_INPUT]
        if thermal == "lumped":
            CellEchemTwin._add_heat_flow_input(pybamm_model)
            names += [HEAT_FLOW_INPUT, INITIAL_TEMPERATURE]
        names += [INITIAL_CONCENTRATION["n"], INITIAL_CONCENTRATION["p"], *run_time_parameters]
        self.input_names = tuple(names)
        values.update({name: "[input]" for name in names})
        sim = pybamm.Simulation(pybamm_model, parameter_values=values, var_pts=dict(var_pts) if var_pts else None)
        sim.build(inputs=self.inputs(0.0, 298.15, 0.5))
        objs = sim.built_model.export_casadi_objects(list(output_variables), input_parameter_order=list(names))
        if objs["z"].shape[0]:
            raise ValueError(f"{model}: {objs['z'].shape[0]} algebraic states; only ODE models are stepped here")
        x, p, t = objs["x"], objs["inputs"], objs["t"]
        self.n_states = x.shape[0]
        expanded = _expanded if expand else (lambda function: function)
        self.rhs = expanded(ca.Function("rhs", [x, p], [ca.substitute(objs["rhs"], t, 0.0)]))
        initial = [names.index(n) for n in (*INITIAL_CONCENTRATION.values(), INITIAL_TEMPERATURE) if n in names]
        if set(self.rhs.sparsity_jac(1, 0).get_triplet()[1]) & set(initial):
            raise ValueError(f"{model}: the right-hand side depends on the initial state's inputs")
        self.outputs = expanded(ca.Function("outputs", [x, p], [ca.substitute(
            ca.vertcat(*[objs["variables"][k] for k in output_variables]), t, 0.0)]))
        self.initial = ca.Function("x0", [p], [objs["x0"]])

    def concentrations(self, soc: Any) -> tuple[Any, Any]:
        """The electrodes' initial concentrations at ``soc`` over the electrode-SOH window (the
        stoichiometries are affine in it, PyBaMM's initial_soc definition); numbers or symbols."""
        soh = self.electrode_soh
        x = soh["x_0"] + soc * (soh["x_100"] - soh["x_0"])
        y = soh["y_0"] - soc * (soh["y_0"] - soh["y_100"])
        return x * self.c_max["n"], y * self.c_max["p"]

    def inputs(self, current_A: Any, ambient_temperature_K: Any, soc: Any, heat_flow_W: Any = 0.0,
               initial_temperature_K: Any = None, run_time: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The PyBaMM input parameters by name (numbers or symbols); run-time parameters not in
        ``run_time`` take the parameter set's values."""
        c_n, c_p = self.concentrations(soc)
        values = {CURRENT_INPUT: current_A, AMBIENT_INPUT: ambient_temperature_K, INITIAL_CONCENTRATION["n"]: c_n,
                  INITIAL_CONCENTRATION["p"]: c_p, HEAT_FLOW_INPUT: heat_flow_W,
                  INITIAL_TEMPERATURE: ambient_temperature_K if initial_temperature_K is None else initial_temperature_K,
                  **self.run_time_defaults, **dict(run_time or {})}
        return {name: values[name] for name in self.input_names}


def _expanded(function: Any) -> Any:
    """``function`` as scalar expressions (SX: a compact Jacobian and generated C) where it can be
    expanded; a tabulated PyBaMM interpolant keeps the MX form."""
    try:
        return function.expand()
    except RuntimeError:
        return function
