"""A scenario file for ``fmutwin cosim run``: a system description with its run settings, input
sources and events, as JSON (validated by pydantic, every bad field named):

    {"system": "pack.ssd", "stop_s": 1800, "step_s": 1, "algorithm": "iterated",
     "iterate": ["module1", "thermal"], "tolerance": 1e-10,
     "inputs": [{"target": "load.powerDemand", "csv": "WLTC.csv", "column": 1, "scale": 1000}],
     "events": [{"time_s": 600, "inputs": {"thermal.coolantFlow": 0.0}},
                {"when": ["module3.maxCellTemperature", ">", 318.15], "inputs": {"thermal.coolantFlow": 0.2}}],
     "outputs": {"file": "results.parquet", "variables": null, "decimation": 1}}

Paths are relative to the scenario file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fmutwin.cosim.algorithms import Iterated, make_algorithm
from fmutwin.cosim.manipulators import Event, InputSource, Manipulator
from fmutwin.cosim.observers import FileWriter


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class InputSpec(_Strict):
    target: str = Field(description="input endpoint, component.variable")
    csv: str = Field(description="CSV file of the time series (lines starting with # skipped)")
    column: str | int = Field(1, description="value column (name or index)")
    time_column: str | int = Field(0, description="time column (name or index) [s]")
    scale: float = 1.0
    offset: float = 0.0
    interpolation: Literal["hold", "linear"] = "hold"


class EventSpec(_Strict):
    time_s: float | None = None
    when: tuple[str, Literal[">", ">=", "<", "<="], float] | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    name: str = "event"


class OutputSpec(_Strict):
    file: str = Field("results.csv", description=".csv or .parquet")
    variables: list[str] | None = None
    decimation: int = Field(1, ge=1)


class Scenario(_Strict):
    system: str = Field(description="the system description (.ssd)")
    stop_s: float | None = Field(None, gt=0)
    step_s: float | None = Field(None, gt=0)
    algorithm: Literal["jacobi", "gauss-seidel", "iterated"] | None = None
    iterate: list[str] | None = Field(None, description="iterated: the components iterated (default all)")
    tolerance: float = Field(1e-10, gt=0)
    max_iterations: int = Field(30, ge=1)
    inputs: list[InputSpec] = Field(default_factory=list)
    events: list[EventSpec] = Field(default_factory=list)
    outputs: OutputSpec = Field(default_factory=OutputSpec)


def load_scenario(path: str | Path) -> tuple[Scenario, Path]:
    """The scenario and its folder; a ValueError names every bad field."""
    path = Path(path)
    try:
        return Scenario.model_validate_json(path.read_text()), path.parent
    except OSError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from None


def algorithm_of(s: Scenario, name: str | None) -> Any:
    name = name or s.algorithm
    if name == "iterated":
        return Iterated(s.tolerance, s.max_iterations, s.iterate)
    return make_algorithm(name) if name else None


def manipulators_of(s: Scenario, base: Path) -> list[Manipulator]:
    out: list[Manipulator] = [InputSource.from_csv(i.target, base / i.csv, i.column, i.time_column, scale=i.scale,
                                                   offset=i.offset, interpolation=i.interpolation) for i in s.inputs]
    out += [Event(e.inputs, e.parameters, e.time_s, e.when, e.name) for e in s.events]
    return out


def writer_of(s: Scenario, out: Path | None, base: Path, metadata: dict[str, Any]) -> FileWriter:
    return FileWriter(out or base / s.outputs.file, s.outputs.variables, s.outputs.decimation, metadata)
