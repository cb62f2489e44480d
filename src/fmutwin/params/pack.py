"""The pack's parameters: its modules in series, and its thermal system (module cold plates in one
coolant loop, and an enclosure).

Per-module quantities are one number (every module alike) or one value per module, in coolant
order. Defaults describe a liquid-cooled pack of aluminium plates with water-glycol; illustrative
values, not a particular pack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from fmutwin.params.base import ParameterFile
from fmutwin.params.cell import T_MAX_K, T_MIN_K
from fmutwin.params.module import VARYING, ModuleParameters, Variation, check_realised

PerModule = float | list[float]
#: the per-module quantities and the range of each value
PER_MODULE_RANGES: dict[str, tuple[float, float]] = {
    "plate_heat_capacity_J_per_K": (1e-3, 1e9), "plate_to_coolant_W_per_K": (0.0, 1e7),
    "plate_to_enclosure_W_per_K": (0.0, 1e6), "initial_plate_temperature_K": (T_MIN_K, T_MAX_K)}


class PackThermalParameters(ParameterFile):
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


class PackParameters(ParameterFile):
    """A pack: ``n_modules`` modules of one design in series, in the order of the coolant loop,
    and the pack's thermal system. Cell c of the pack is cell ``c % n`` of module ``c // n``
    (n cells per module); its variation is drawn over all the pack's cells from the module's
    (explicit per-cell values repeat in every module), and written into ``realised``."""

    name: str = Field(description="short name")
    source: str = Field(description="where the numbers come from")
    module: ModuleParameters = Field(description="the module design of every module")
    n_modules: int = Field(ge=1, le=1000, description="modules in series")
    thermal: PackThermalParameters = Field(description="cold plates, coolant loop and enclosure")
    realised: dict[str, list[float]] | None = Field(None, description="per-cell variation over the whole pack")
    provenance: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _sizes(self) -> "PackParameters":
        if self.thermal.n_modules != self.n_modules:
            raise ValueError(f"thermal.n_modules: {self.thermal.n_modules} for {self.n_modules} modules")
        n = self.n_modules * self.module.n_cells
        check_realised(self.realised, n)
        return self

    def as_string(self) -> ModuleParameters:
        """The modules in series as one long module (n_modules x Ns elements of Np cells), with the
        whole pack's realised variation (a module's thermal grid repeats in each module)."""
        m = self.module
        variation = {k: (v * self.n_modules if isinstance(v, list) else v)
                     for k in VARYING if (v := getattr(m.variation, k)) is not None}
        string = m.model_copy(update={"n_series": m.n_series * self.n_modules, "realised": self.realised,
                                      "variation": Variation(**variation), "name": f"{self.name} cells",
                                      "provenance": None})
        return ModuleParameters.model_validate(string.model_dump()).realise()

    def realise(self) -> "PackParameters":
        """This set with the variation over the whole pack drawn into ``realised`` (kept if there)."""
        return self.model_copy(update={"realised": self.as_string().realised})

    def save(self, path: str | Path) -> None:
        """Write the set with its realised variation (a run is reproducible from the file alone)."""
        ParameterFile.save(self.realise(), path)
