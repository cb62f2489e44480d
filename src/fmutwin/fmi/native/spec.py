"""What a twin hands the native exporter: its step function, numbers and variable bindings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from fmutwin.interface import Variable


@dataclass(frozen=True)
class NativeSpec:
    """A twin's step over ``ops`` plus where each declared variable lives.

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
