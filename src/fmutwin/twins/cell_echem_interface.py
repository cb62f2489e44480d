"""The electrochemical cell twin's exposed variables (declared once) and the model the FMI
layer drives. Nothing here knows FMI. Positive current discharges the cell.

This twin keeps Python at run time: the importing process needs PyBaMM (with its IDAKLU solver)
besides numpy, scipy and pydantic.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from fmutwin.interface import InputError, ModelError, StateError, Variable
from fmutwin.twins.opaque_model import OpaqueTwinModel

PARAMETERS: tuple[Variable, ...] = (
    Variable("model", "parameter", "PyBaMM model: SPM, SPMe or DFN", type="String", start="SPMe"),
    Variable("parameterSet", "parameter", "PyBaMM parameter set name (Chen2020, Ecker2015, Marquis2019, ...)",
             type="String", start="Chen2020"),
    Variable("bpxFile", "parameter", "path of a BPX parameter file; overrides parameterSet when set",
             type="String", start=""),
    Variable("thermalModel", "parameter", "isothermal (cell at ambient) or lumped", type="String",
             start="isothermal"),
    Variable("initialSoc", "parameter", "initial state of charge (PyBaMM stops a model that starts on a voltage "
             "cut-off, e.g. Chen2020 at 1.0)", unit="1", start=0.9, min=0.0, max=1.0),
    Variable("initialTemperature", "parameter", "initial cell temperature", unit="K", start=298.15, min=100.0,
             max=2000.0),
)

INPUTS: tuple[tuple[Variable, str], ...] = (
    (Variable("current", "input", "cell current, positive = discharge", unit="A", start=0.0), "current_A"),
    (Variable("ambientTemperature", "input", "ambient temperature", unit="K", start=298.15, min=100.0, max=2000.0),
     "ambient_temperature_K"),
    (Variable("heatFlow", "input", "external heat flow into the cell (lumped thermal model)", unit="W", start=0.0),
     "heat_flow_W"),
)

OUTPUTS: tuple[tuple[Variable, str], ...] = (
    (Variable("batteryVoltage", "output", "terminal voltage", unit="V"), "voltage_V"),
    (Variable("batteryCurrent", "output", "cell current, positive = discharge", unit="A"), "current_A"),
    (Variable("stateOfCharge", "output", "state of charge over the electrode-SOH window (PyBaMM's initial_soc "
              "definition, and that of an ECM reduced from this model): remaining charge / window capacity",
              unit="1"), "soc"),
    (Variable("stateOfChargeNominal", "output", "remaining charge / the parameter set's nominal capacity "
              "(may exceed 1)", unit="1"), "soc_nominal"),
    (Variable("batteryTemperature", "output", "volume-averaged cell temperature", unit="K"), "temperature_K"),
    (Variable("heatGenerationRate", "output", "total heat generated in the cell", unit="W"), "heat_generation_W"),
    (Variable("negativeSurfaceStoichiometry", "output", "x-averaged negative particle surface stoichiometry",
              unit="1"), "negative_surface_stoichiometry"),
    (Variable("positiveSurfaceStoichiometry", "output", "x-averaged positive particle surface stoichiometry",
              unit="1"), "positive_surface_stoichiometry"),
    (Variable("electrolyteConcentrationSeparator", "output", "x-averaged separator electrolyte concentration",
              unit="mol/m3"), "electrolyte_concentration_separator_mol_per_m3"),
    (Variable("negativeElectrodePotentialVsLi", "output", "negative electrode potential vs Li at the separator: "
              "below 0 V lithium plating is possible", unit="V"), "negative_electrode_potential_vs_li_V"),
)

VARIABLES: tuple[Variable, ...] = PARAMETERS + tuple(v for v, _ in INPUTS) + tuple(v for v, _ in OUTPUTS)
_INPUT_KEYS = {v.name: key for v, key in INPUTS}


class CellEchemModel(OpaqueTwinModel):
    """Drives one :class:`fmutwin.twins.cell_echem.CellEchemTwin` from FMI-named values."""

    variables = VARIABLES

    def __init__(self, resources: Any = None) -> None:
        self.twin: Any = None

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        from fmutwin.twins.cell_echem import CellEchemTwin

        try:
            self.twin = CellEchemTwin(model=str(parameters["model"]), parameter_set=str(parameters["parameterSet"]),
                                      bpx_file=str(parameters["bpxFile"]) or None,
                                      thermal=str(parameters["thermalModel"]),
                                      initial_soc=float(parameters["initialSoc"]),
                                      ambient_temperature_K=float(parameters["initialTemperature"]))
        except (ValueError, InputError) as exc:
            raise ModelError(str(exc)) from None
        except Exception as exc:  # PyBaMM's own errors (model build, solver set-up)
            raise ModelError(f"PyBaMM could not build the model: {type(exc).__name__}: {exc}") from None
        return self._initial_outputs(inputs)

    def _initial_outputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs at the initial state with the importer's inputs (a step of 1 ms on a saved
        state, undone: PyBaMM evaluates its outputs on a solution)."""
        saved = self.twin.get_state()
        try:
            y = self.twin.step(dt_s=1e-3, **{_INPUT_KEYS[name]: float(value) for name, value in inputs.items()})
        except StateError as exc:
            raise ModelError(f"the initial state is already at a limit (choose another initialSoc or "
                             f"current): {exc}") from None
        except InputError as exc:
            raise ModelError(self._fmi_names(str(exc))) from None
        self.twin.set_state(saved)
        return self._outputs(y)

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        args = {_INPUT_KEYS[name]: float(value) for name, value in inputs.items()}
        try:
            return self._outputs(self.twin.step(dt_s=dt_s, **args))
        except (InputError, StateError) as exc:
            raise ModelError(self._fmi_names(str(exc))) from None

    @staticmethod
    def _fmi_names(message: str) -> str:
        """Rename the twin's input names in a message to the declared variable names."""
        for var, key in INPUTS:
            message = message.replace(f"input {key}", f"input {var.name}")
        return message

    @staticmethod
    def _outputs(y: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {var.name: float(y[key][0]) for var, key in OUTPUTS}

    def get_state(self) -> dict[str, Any]:
        state = self.twin.get_state()
        return {"time_s": state["time_s"], "y": None if state["y"] is None else np.asarray(state["y"]).tolist(),
                "inputs": state.get("inputs"),
                "outputs": {k: np.asarray(v).tolist() for k, v in state["outputs"].items()}}
