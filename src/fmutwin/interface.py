"""A twin's variables, declared once, in terms that know nothing of FMI.

Each twin declares a tuple of :class:`Variable` and provides a :class:`SteppableModel`; the FMI
layer (``fmutwin.fmi``) turns that one declaration into FMI 2.0 and 3.0 FMUs (Python and native),
so no variable list, unit or description is ever written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Protocol

Causality = Literal["input", "output", "parameter", "calculatedParameter", "local"]
Variability = Literal["constant", "fixed", "tunable", "discrete", "continuous"]
VarType = Literal["Real", "Integer", "Boolean", "String"]


@dataclass(frozen=True)
class Variable:
    """One exposed variable: name, causality, unit, start, range and description.

    ``unit`` is an SI unit string (``"V"``, ``"A"``, ``"K"``, ``"W"``, ``"J"``, ``"As"``, ``"Ohm"``,
    ``"J/K"``, ``"W/K"``, ``"1"`` for dimensionless) and is required for Real variables.
    """

    name: str
    causality: Causality
    description: str
    type: VarType = "Real"
    unit: str | None = None
    start: float | int | bool | str | None = None
    min: float | None = None
    max: float | None = None
    dimensions: tuple[int, ...] = ()  # array sizes; FMI 2.0 has no arrays and leaves these out
    increasing: bool = False  # an array that must be strictly increasing (a table grid)

    def __post_init__(self) -> None:
        if self.type == "Real" and not self.unit:
            raise ValueError(f"variable {self.name}: a Real variable needs a unit ('1' if dimensionless)")
        if self.causality in ("input", "parameter") and self.start is None:
            raise ValueError(f"variable {self.name}: {self.causality} needs a start value")
        if self.dimensions and self.type != "Real":
            raise ValueError(f"variable {self.name}: only Real variables may be arrays")

    @property
    def variability(self) -> Variability:
        """Parameters are fixed; Real inputs/outputs continuous; other types discrete."""
        if self.causality in ("parameter", "calculatedParameter"):
            return "fixed"
        return "continuous" if self.type == "Real" else "discrete"


class ModelError(ValueError):
    """A model refused an input or a parameter; the message names the variable and value."""


class InputError(ValueError):
    """A twin's input is NaN, infinite or outside its physical range (the twin keeps its state)."""


class StateError(RuntimeError):
    """A twin's step produced a non-finite value or failed (a model or parameter problem, never silent)."""


class SteppableModel(Protocol):
    """What the FMI layer drives. Values are keyed by :attr:`Variable.name`."""

    variables: tuple[Variable, ...]

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str]) -> dict[str, Any]:
        """Build the model from parameter values; return the initial outputs.

        ``overridden`` names the parameters the importer set explicitly (the others keep the
        values of the parameter file). Raises :class:`ModelError` naming a bad field.
        """

    def step(self, inputs: Mapping[str, Any], time_s: float, dt_s: float) -> dict[str, Any]:
        """Advance by ``dt_s`` from ``time_s``; return the outputs. Raises :class:`ModelError`."""

    def get_state(self) -> dict[str, Any]:
        """The complete model state as JSON-serialisable data."""

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""

    def warnings(self) -> list[str]:
        """Warnings raised by the last call (e.g. SOC outside its range), then cleared."""


@dataclass(frozen=True)
class TwinExport:
    """What FMI export needs of a twin, and nothing of its physics: an entry of the composition
    root's registry (:mod:`fmutwin.registry`), which the FMI layer receives and never looks up.

    ``name`` is the registry key and the thin slave source ``fmu_sources/<name>.py``;
    ``model_factory(resources)`` builds the :class:`SteppableModel` inside a Python FMU (``resources``:
    the FMU's resources folder, or None while building); ``native_spec()`` gives the generated-C
    export, if the twin has one; ``parameter_file()`` is the parameter file the FMUs are built
    from, shipped as ``resources/<parameter_file_name>`` with its provenance annotated in the
    modelDescription.
    """

    name: str
    model_name: str
    description: str
    model_factory: Callable[[Any], SteppableModel]
    native_spec: Callable[[], "NativeSpec"] | None = None
    parameter_file: Callable[[], Any] | None = None
    parameter_file_name: str = "parameters.json"


@dataclass(frozen=True)
class NativeSpec:
    """For generated-code export: a twin's step over ``ops`` plus where each declared variable lives.

    ``parameters`` binds a declared parameter to ("p", leaf path of the equation parameters),
    ("x0", prefix of initial-state names) or ("limit", "") (the shell's current limit);
    ``inputs``/``outputs`` bind declared variables to the step's input and output names.
    """

    step: Callable[..., Any]
    structure: Any
    p: dict[str, Any]
    x0: dict[str, float]
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    parameters: tuple[tuple[Variable, str, str], ...]
    inputs: tuple[tuple[Variable, str], ...]
    outputs: tuple[tuple[Variable, str], ...]
    limited_input: str  # an input whose magnitude the "limit" parameter bounds
    dt_input: str
    time_state: str
    warned_output: str  # an output that logs a warning outside warn_range
    warn_range: tuple[float, float]
    limit_default: float
