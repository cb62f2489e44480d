"""A twin's variables, declared once, in terms that know nothing of FMI.

Each twin declares a tuple of :class:`Variable` and provides a :class:`SteppableModel`; the FMI
layer (``fmutwin.fmi``) turns that one declaration into FMI 2.0 and 3.0 FMUs (Python and native),
so no variable list, unit or description is ever written twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Protocol

Causality = Literal["input", "output", "parameter", "calculatedParameter", "local"]
Variability = Literal["constant", "fixed", "tunable", "discrete", "continuous"]
VarType = Literal["Real", "Integer", "Boolean", "String"]


@dataclass(frozen=True)
class Variable:
    """One exposed variable: name, causality, type, unit, start, range and description.

    ``unit`` is an SI unit string (``"V"``, ``"A"``, ``"K"``, ``"W"``, ``"J"``, ``"As"``, ``"Ohm"``,
    ``"J/K"``, ``"W/K"``, ``"1"`` for dimensionless) and is required for Real variables.

    ``min``/``max`` are numbers, or the name of a Real parameter (``"currentLimit"``, or
    ``"-currentLimit"`` for its negative) when the importer sets the bound; an input or parameter
    outside its range is refused, naming both. On an output they are the model's validity limits
    (a voltage cut-off): a step that would end outside them is refused, the state stays at the
    step's start, and the log names the limit and the time at which it was crossed. ``dimensions`` makes an array (any type; row-major;
    FMI 3.0 arrays, FMI 2.0 scalars ``name[i]`` / ``name[i,j]``); ``start`` then holds every element.
    A ``structural`` parameter (e.g. an array size) is fixed when the FMU is built: importers may set
    it to its start value only. ``warn_range`` (outputs): a value outside it is logged as a warning.
    ``increasing``: an array that must be strictly increasing (a table grid).
    """

    name: str
    causality: Causality
    description: str
    type: VarType = "Real"
    unit: str | None = None
    start: Any = None
    min: float | str | None = None
    max: float | str | None = None
    dimensions: tuple[int, ...] = ()
    structural: bool = False
    increasing: bool = False
    warn_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.type == "Real" and not self.unit:
            raise ValueError(f"variable {self.name}: a Real variable needs a unit ('1' if dimensionless)")
        if self.causality in ("input", "parameter") and self.start is None:
            raise ValueError(f"variable {self.name}: {self.causality} needs a start value")
        if self.structural and (self.causality != "parameter" or self.type != "Integer" or self.dimensions):
            raise ValueError(f"variable {self.name}: a structural parameter is a scalar Integer parameter")
        if self.dimensions and self.start is not None and len(flat(self.start)) != self.size:
            raise ValueError(f"variable {self.name}: start has {len(flat(self.start))} values for dimensions "
                             f"{self.dimensions}")
        if self.start is not None and self.type in ("Real", "Integer"):
            problem = value_problem(self, self.start, {})
            if problem:  # an importer writing every start value must be able to run the FMU
                raise ValueError(f"variable {self.name}: the declared start is invalid: {problem}")

    @property
    def variability(self) -> Variability:
        """Parameters are fixed; Real inputs/outputs continuous; other types discrete."""
        if self.causality in ("parameter", "calculatedParameter"):
            return "fixed"
        return "continuous" if self.type == "Real" else "discrete"

    @property
    def size(self) -> int:
        """Number of elements (1 for a scalar)."""
        n = 1
        for d in self.dimensions:
            n *= d
        return n

    def element_names(self) -> list[str]:
        """FMI 2.0 names of the elements of an array, row-major: ``name[1]``.. or ``name[1,1]``.."""
        if not self.dimensions:
            return [self.name]
        names = [""]
        for d in self.dimensions:
            names = [f"{prefix},{i}" if prefix else str(i) for prefix in names for i in range(1, d + 1)]
        return [f"{self.name}[{index}]" for index in names]

    def bounds(self, values: Mapping[str, Any]) -> tuple[float, float]:
        """The numeric range, with parameter-named bounds read from ``values`` (the variables'
        current values by name)."""
        return _bound(self.min, values, -math.inf), _bound(self.max, values, math.inf)


def _bound(bound: float | str | None, values: Mapping[str, Any], default: float) -> float:
    if bound is None:
        return default
    if isinstance(bound, str):
        sign = -1.0 if bound.startswith("-") else 1.0
        return sign * float(values[bound.lstrip("-")]) if bound.lstrip("-") in values else default
    return float(bound)


def flat(value: Any) -> list[Any]:
    """The elements of a scalar, a sequence or nested sequences (row-major)."""
    if isinstance(value, (list, tuple)) and not any(isinstance(x, (list, tuple)) or hasattr(x, "tolist")
                                                    and getattr(x, "ndim", 0) > 0 for x in value):
        return [x.item() if hasattr(x, "item") else x for x in value]  # one level of scalars: no recursion
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, (str, bytes))):
        value = value.tolist() if hasattr(value, "tolist") else value
        if not isinstance(value, list):
            return [value]
        return [x for item in value for x in flat(item)]
    return [value]


def value_problem(var: Variable, value: Any, values: Mapping[str, Any]) -> str | None:
    """Why ``value`` is not valid for ``var`` (None if it is): a non-finite Real, an Integer that is
    not whole, a value outside the range (parameter-named bounds read from ``values``), an array of
    the wrong size, a grid that is not strictly increasing, a structural parameter changed.

    The rules every export applies (the Python slave calls this; the C shell checks the same)."""
    if var.type not in ("Real", "Integer"):
        return None
    elements = flat(value)
    if len(elements) != var.size:
        return f"{var.name}: {len(elements)} values for {var.size} elements"
    lo, hi = var.bounds(values)
    for k, element in enumerate(elements):
        where = f"{var.name}[{k + 1}]" if var.dimensions else var.name
        try:
            number = float(element)
        except (TypeError, ValueError):
            return f"{where} = {element!r} is not a number"
        if not math.isfinite(number):
            return f"{where} = {number} is not finite"
        if var.type == "Integer" and number != int(number):
            return f"{where} = {number} is not an integer"
        if number < lo or number > hi:
            unit = f" {var.unit}" if var.unit and var.unit != "1" else ""
            return f"{where} = {number:.17g}{unit} is outside its range [{_bound_text(var.min, lo)}, " \
                   f"{_bound_text(var.max, hi)}]"
        if var.increasing and k and number <= float(elements[k - 1]):
            return f"{where} = {number} is not above the element before ({elements[k - 1]}): a grid must be " \
                   "strictly increasing"
    if var.structural and var.start is not None and int(float(elements[0])) != int(var.start):
        return f"{var.name} = {elements[0]} cannot change: it is fixed at {var.start} when the FMU is built " \
               "(rebuild the FMU for another value)"
    return None


def _bound_text(bound: float | str | None, value: float) -> str:
    return f"{bound} = {value:g}" if isinstance(bound, str) else f"{value:g}"


class ModelError(ValueError):
    """A model refused an input or a parameter; the message names the variable and value."""


class InputError(ValueError):
    """A twin's input is NaN, infinite or outside its physical range (the twin keeps its state)."""


class StateError(RuntimeError):
    """A twin's step produced a non-finite value or failed (a model or parameter problem, never silent)."""


class SteppableModel(Protocol):
    """What the FMI layer drives. Values are keyed by :attr:`Variable.name`; arrays arrive as
    numpy arrays of their declared dimensions. The FMI layer has checked every value against its
    declaration (:func:`value_problem`) before a call."""

    variables: tuple[Variable, ...]

    def initialize(self, parameters: Mapping[str, Any], overridden: set[str],
                   inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Build the model from parameter values; return the outputs at the initial state with
        ``inputs`` (the values the importer set during initialisation).

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
        """Warnings raised by the last call, then cleared (outputs leaving a declared
        ``warn_range`` are the FMI layer's; this is for anything else a model has to say)."""

    def output_dependencies(self) -> dict[str, tuple[str, ...]] | None:
        """For each output, the inputs it depends on directly (at the initial state); None if
        unknown (then every output may depend on every input). Written into ModelStructure."""


@dataclass(frozen=True)
class TwinExport:
    """What FMI export needs of a twin, and nothing of its physics: an entry of the composition
    root's registry (:mod:`fmutwin.registry`), which the FMI layer receives and never looks up.

    ``name`` is the registry key; ``model_factory(resources)`` builds the :class:`SteppableModel`
    inside a Python FMU (``resources``: the FMU's resources folder, or None while building);
    ``equations()`` gives the twin's :class:`EquationSpec` if it has one (native FMUs: generated
    C); ``parameter_file()`` is the parameter file the FMUs are built from, shipped as
    ``resources/<parameter_file_name>`` with its provenance annotated in the modelDescription.
    The Python FMU's thin slave source is ``fmu_sources/<name>.py``, or ``slave_source`` for a twin
    that lives outside fmutwin, whose own ``modules`` are shipped beside it in the resources.
    """

    name: str
    model_name: str
    description: str
    model_factory: Callable[[Any], SteppableModel]
    equations: Callable[[], "EquationSpec"] | None = None
    parameter_file: Callable[[], Any] | None = None
    parameter_file_name: str = "parameters.json"
    slave_source: Any = None
    modules: tuple[Any, ...] = ()


@dataclass(frozen=True)
class EquationSpec:
    """A twin's equations over ``ops`` and where each declared variable lives: what the native
    export generates C from (everything a twin needs of the C shell is here, none of it in the
    shell), and what :class:`fmutwin.twins.equation_model.EquationModel` runs with numpy for a
    Python FMU, so a twin written this way is a declaration and a step function, nothing more.

    ``step(ops, structure, p, x, u) -> (x_next, y)`` and ``initial_state(ops, structure, p) -> x0``
    (run at the end of initialisation, once the importer has set the parameters) become generated
    C. ``p`` is the tree of numbers (scalars and arrays) the generated functions take as their
    parameter vector; ``parameters`` binds each declared parameter to a leaf of it (same number of
    elements; a leaf the equations do not read, such as the limit a range names, is stored all
    the same); ``inputs`` / ``outputs`` bind declared variables to the step's input and output
    names (an output the structure does not produce reads 0). ``dt_input`` receives the
    communication step size; ``time_state`` (if not None) is set to the start time at the end of
    initialisation. Ranges, warn ranges, types and array sizes come from the variables. State,
    input and output entries named ``base[0]``, ``base[1]``, ... are one array ``base`` to the
    equations (a module's cell arrays).
    """

    step: Callable[..., Any]
    initial_state: Callable[..., Any]
    structure: Any
    p: dict[str, Any]
    state_names: tuple[str, ...]
    input_names: tuple[str, ...]
    parameters: tuple[tuple[Variable, str], ...]
    inputs: tuple[tuple[Variable, str], ...]
    outputs: tuple[tuple[Variable, str], ...]
    dt_input: str
    time_state: str | None
    #: also ship the output function and the dense state Jacobian as C source (for an EKF of a
    #: cell; a module's thousands of states would make it hundreds of MB)
    derivatives: bool = False
