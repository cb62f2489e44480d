"""The BMS parameter set: the cell file whose equations its estimator runs, the pack's Ns x Np,
and the estimator's settings (initial guess and noise). Positive current discharges the pack."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fmutwin.params.base import ParameterFile, StrictModel
from fmutwin.params.cell import CellParameters


class EstimatorSettings(StrictModel):
    """SoC estimation settings, the same for every series element."""

    method: Literal["ekf", "ukf", "adaptive"] = Field(
        "ekf", description="the filter: extended (ekf) or unscented (ukf) Kalman, or the EKF that also estimates "
                           "R0 (adaptive)")
    initial_soc: float | None = Field(
        None, ge=0, le=1, description="initial SoC guess [1]; None: from the OCV at the first measured voltage "
                                      "(the pack at rest at start-up)")
    initial_soc_std: float = Field(0.2, gt=0, le=1, description="standard deviation of the initial guess [1]")
    voltage_noise_V: float = Field(0.01, gt=0, le=1, description="element voltage sensor noise, standard deviation [V]")
    current_noise_A: float = Field(0.05, ge=0, le=1e3, description="current sensor noise, standard deviation [A]")
    rc_process_noise_V: float = Field(1e-4, ge=0, le=1, description="RC voltage model error per step, std [V]")
    r0_factor_std: float = Field(0.3, gt=0, le=10, description="adaptive: standard deviation of the initial R0 "
                                                                "factor guess (1, the cell file's R0) [1]")
    r0_factor_process_noise: float = Field(1e-4, ge=0, le=1, description="adaptive: R0 factor random walk per "
                                                                         "step, standard deviation [1]")
    eol_resistance_factor: float = Field(2.0, gt=1, le=100, description="R at end of life over R new, for SoH "
                                                                        "by resistance [1]")
    soc_process_noise: float = Field(1e-6, ge=0, le=1, description="SoC model error per step beyond the current "
                                                                   "noise's, standard deviation [1]")


class BmsParameters(ParameterFile):
    """A BMS for ``n_series`` elements of ``n_parallel`` cells of one cell parameter file."""

    name: str = Field(min_length=1, description="name of this BMS set")
    source: str = Field("", description="where it came from")
    cell: CellParameters = Field(description="the cell parameter set the estimator's model runs (any ECM file, "
                                             "including one reduced by fmutwin reduce)")
    n_series: int = Field(ge=1, le=10000, description="series elements the BMS measures")
    n_parallel: int = Field(1, ge=1, le=1000, description="cells in parallel in each element")
    estimator: EstimatorSettings = Field(default_factory=EstimatorSettings, description="SoC estimation settings")
