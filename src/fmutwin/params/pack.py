"""The pack's thermal parameters: module cold plates in one coolant loop, and an enclosure.

Per-module quantities are one number (every module alike) or one value per module, in coolant
order. Defaults describe a liquid-cooled pack of aluminium plates with water-glycol; illustrative
values, not a particular pack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from fmutwin.params.base import StrictModel
from fmutwin.params.cell import T_MAX_K, T_MIN_K, ParameterError, format_validation_error

PerModule = float | list[float]
#: the per-module quantities and the range of each value
PER_MODULE_RANGES: dict[str, tuple[float, float]] = {
    "plate_heat_capacity_J_per_K": (1e-3, 1e9), "plate_to_coolant_W_per_K": (0.0, 1e7),
    "plate_to_enclosure_W_per_K": (0.0, 1e6), "initial_plate_temperature_K": (T_MIN_K, T_MAX_K)}


class PackThermalParameters(StrictModel):
    """Everything that defines the pack's thermal system around its modules."""

    name: str = Field(description="short name")
    source: str = Field(description="where the numbers come from")
    n_modules: int = Field(ge=1, le=1000, description="modules along the coolant loop (in order)")
    plate_heat_capacity_J_per_K: PerModule = Field(2000.0, description="cold plate with its coolant [J/K]")
    plate_to_coolant_W_per_K: PerModule = Field(200.0, description="plate-to-coolant UA at the reference flow [W/K]")
    plate_to_enclosure_W_per_K: PerModule = Field(1.0, description="plate (and module) to enclosure [W/K]")
    reference_flow_kg_per_s: float = Field(0.1, gt=0, le=100, description="flow at which UA holds [kg/s]")
    flow_exponent: float = Field(0.8, ge=0, le=1, description="UA ~ flow^n (0: constant; Dittus-Boelter 0.8)")
    coolant_heat_capacity_J_per_kg_K: float = Field(3500.0, gt=0, le=1e5, description="coolant c_p [J/(kg K)]")
    enclosure_heat_capacity_J_per_K: float = Field(20000.0, gt=0, le=1e9, description="enclosure air + structure [J/K]")
    enclosure_to_ambient_W_per_K: float = Field(10.0, ge=0, le=1e6, description="enclosure to ambient [W/K]")
    initial_plate_temperature_K: PerModule = Field(298.15, description="initial plate temperatures [K]")
    initial_enclosure_temperature_K: float = Field(298.15, ge=T_MIN_K, le=T_MAX_K, description="[K]")
    provenance: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _per_module(self) -> "PackThermalParameters":
        for key, (lo, hi) in PER_MODULE_RANGES.items():
            values = self.per_module(key)
            if len(values) != self.n_modules:
                raise ValueError(f"{key}: {len(values)} values for {self.n_modules} modules")
            for m, v in enumerate(values):
                if not lo <= v <= hi:
                    raise ValueError(f"{key}[{m}] = {v!r} is outside [{lo:g}, {hi:g}]")
        return self

    def per_module(self, key: str) -> list[float]:
        """A per-module quantity as one value per module."""
        value = getattr(self, key)
        return [float(v) for v in value] if isinstance(value, list) else [float(value)] * self.n_modules

    @classmethod
    def from_dict(cls, data: object, origin: str = "pack thermal parameters") -> "PackThermalParameters":
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ParameterError(format_validation_error(exc, origin)) from None

    @classmethod
    def load(cls, path: str | Path) -> "PackThermalParameters":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_dict(data, origin=str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=1, exclude_none=True) + "\n")
