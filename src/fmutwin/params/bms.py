"""The BMS parameter set: the cell file whose equations its estimator runs, the pack's Ns x Np,
the estimator's settings (filter, initial guess, noise) and the limits' (cell voltage limits,
ratings, derating, SoC window). Positive current discharges the pack."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

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
    rc_process_noise_V: float = Field(1e-4, gt=0, le=1, description="RC voltage model error over 1 s, std (its "
                                                                 "variance grows with the step) [V]")
    r0_factor_std: float = Field(0.3, gt=0, le=10, description="adaptive: standard deviation of the initial R0 "
                                                                "factor guess (1, the cell file's R0) [1]")
    r0_factor_process_noise: float = Field(1e-4, ge=0, le=1, description="adaptive: R0 factor random walk over "
                                                                         "1 s, std (its variance grows with the step) [1]")
    eol_resistance_factor: float = Field(2.0, gt=1, le=100, description="R at end of life over R new, for SoH "
                                                                        "by resistance [1]")
    hysteresis_std: float = Field(0.5, gt=0, le=1, description="a cell file with hysteresis: standard deviation "
                                                             "of the initial hysteresis state guess (0) [1]")
    hysteresis_process_noise: float = Field(1e-3, ge=0, le=1, description="a cell file with hysteresis: its state's "
                                                                         "model error over 1 s, std [1]")
    soc_process_noise: float = Field(1e-6, ge=0, le=1, description="SoC model error over 1 s beyond the current "
                                                                   "noise's, std (its variance grows with the step) [1]")


class LimitSettings(StrictModel):
    """Current and power limits: cell voltage limits over a horizon, the cell's rated currents
    with temperature derating, and the SoC window (see :mod:`fmutwin.equations.bms_limits`)."""

    horizon_s: float = Field(10.0, gt=0, le=3600, description="the horizon the voltage limits hold over [s]")
    min_cell_voltage_V: float = Field(2.5, gt=0, le=10, description="lower cell voltage limit [V]")
    max_cell_voltage_V: float = Field(4.2, gt=0, le=10, description="upper cell voltage limit [V]")
    voltage_margin_V: float = Field(0.01, ge=0, le=1, description="the limits aim this far inside the voltage "
                                                                  "limits (the estimate's error) [V]")
    max_discharge_c_rate: float = Field(3.0, ge=0, le=100, description="rated discharge current of a cell [C]")
    max_charge_c_rate: float = Field(1.0, ge=0, le=100, description="rated charge current of a cell [C]")
    derating_temperature_K: list[float] = Field(
        [253.15, 273.15, 283.15, 318.15, 333.15], min_length=1, description="temperatures of the derating factors [K]")
    discharge_derating: list[float] = Field([0.3, 0.7, 1.0, 1.0, 0.3], min_length=1,
                                            description="factor on the rated discharge current [1]")
    charge_derating: list[float] = Field([0.0, 0.2, 1.0, 1.0, 0.0], min_length=1,
                                         description="factor on the rated charge current [1]")
    voltage_feedback: bool = Field(True, description="derate the limits by the measured voltages (a correction for "
                                   "the model's error near the voltage limits; see feedback_*)")
    feedback_band_V: float = Field(0.1, gt=0, le=1, description="voltage feedback: a predicted voltage this far past "
                                   "the aimed-at limit takes the derating factor from 1 to 0 in feedback_time_s [V]")
    feedback_time_s: float = Field(1.0, gt=0, le=3600, description="voltage feedback: the integral's time [s]")
    feedback_lookahead_s: float = Field(3.0, ge=0, le=3600, description="voltage feedback: the measured voltages' "
                                        "trend is extrapolated this far ahead [s]")
    feedback_recovery_per_s: float = Field(0.01, gt=0, le=1, description="voltage feedback: the derating factor "
                                           "rises by at most this much per second (no oscillation) [1/s]")
    soc_window: tuple[float, float] = Field((0.02, 0.98), description="no discharge at or below the first, no "
                                                                      "charge at or above the second [1]")

    @model_validator(mode="after")
    def _check(self) -> "LimitSettings":
        if not self.min_cell_voltage_V < self.max_cell_voltage_V:
            raise ValueError(f"min_cell_voltage_V ({self.min_cell_voltage_V}) must be below max_cell_voltage_V "
                             f"({self.max_cell_voltage_V})")
        grid = self.derating_temperature_K
        if any(b <= a for a, b in zip(grid, grid[1:])):
            raise ValueError("derating_temperature_K: must be strictly increasing")
        for name in ("discharge_derating", "charge_derating"):
            values = getattr(self, name)
            if len(values) != len(grid):
                raise ValueError(f"{name}: {len(values)} values for {len(grid)} temperatures")
            if any(not 0 <= v <= 1 for v in values):
                raise ValueError(f"{name}: every factor must be in [0, 1]")
        lo, hi = self.soc_window
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"soc_window: ({lo}, {hi}) must satisfy 0 <= lower < upper <= 1")
        return self


class MonitoringSettings(StrictModel):
    """Alarm thresholds and the debounce every alarm shares (see :mod:`fmutwin.equations.bms_monitoring`)."""

    over_voltage_V: float = Field(4.25, gt=0, le=10, description="cell over-voltage alarm threshold [V]")
    under_voltage_V: float = Field(2.45, gt=0, le=10, description="cell under-voltage alarm threshold [V]")
    over_temperature_K: float = Field(333.15, gt=0, le=1000, description="over-temperature threshold [K]")
    under_temperature_K: float = Field(253.15, gt=0, le=1000, description="under-temperature threshold [K]")
    over_current_discharge_c_rate: float = Field(5.0, gt=0, le=100, description="discharge over-current [C]")
    over_current_charge_c_rate: float = Field(2.0, gt=0, le=100, description="charge over-current [C]")
    pack_voltage_tolerance_V: float = Field(0.1, gt=0, le=100, description="pack voltage vs the sum of the "
                                                                          "elements: alarm beyond [V]")
    innovation_sigmas: float = Field(6.0, gt=0, le=1000, description="voltage sensor alarm: the filter's innovation "
                                                                     "beyond this many standard deviations [1]")
    stuck_time_s: float = Field(10.0, gt=0, le=3600, description="voltage sensor alarm: its reading unchanged "
                                                                  "this long while current flows [s]")
    stuck_resolution_V: float = Field(0.0, ge=0, le=1, description="voltage sensor alarm: a reading that moves no "
                                                                   "more than this has not changed [V]")
    temperature_sensor_tolerance_K: float = Field(10.0, gt=0, le=1000, description="temperature sensor alarm: "
                                                                                   "beyond this from the median of "
                                                                                   "all (3 elements or more) [K]")
    debounce_s: float = Field(2.0, ge=0, le=3600, description="an alarm sets (clears) once its condition has held "
                                                              "(been absent) this long [s]")
    rest_c_rate: float = Field(0.01, ge=0, le=1, description="below this current the pack is at rest [C]")

    @model_validator(mode="after")
    def _check(self) -> "MonitoringSettings":
        if not self.under_voltage_V < self.over_voltage_V:
            raise ValueError("under_voltage_V must be below over_voltage_V")
        if not self.under_temperature_K < self.over_temperature_K:
            raise ValueError("under_temperature_K must be below over_temperature_K")
        return self


class ChargeSettings(StrictModel):
    """CC-CV charging (see :mod:`fmutwin.equations.bms_control`)."""

    cc_c_rate: float = Field(1.0, gt=0, le=100, description="constant-current phase: the current asked for [C]")
    cv_voltage_V: float = Field(4.1, gt=0, le=10, description="constant-voltage phase: the highest element's "
                                                             "voltage held [V]")
    termination_c_rate: float = Field(0.05, gt=0, le=10, description="complete below this current [C]")


class BalancingSettings(StrictModel):
    """Passive balancing (see :mod:`fmutwin.equations.bms_control`)."""

    start_soc_spread: float = Field(0.02, gt=0, le=1, description="an element this far above the lowest bleeds [1]")
    stop_soc_spread: float = Field(0.005, ge=0, le=1, description="... until it is within this of it [1]")
    charge_soc_min: float = Field(0.8, ge=0, le=1, description="while charging, balance only above this mean SoC [1]")
    min_on_s: float = Field(60.0, ge=0, le=86400, description="a bleed switch once on stays on this long [s]")
    bleed_resistance_ohm: float = Field(30.0, gt=0, le=1e6, description="an element's bleed resistor: the "
                                                                       "estimator counts its current [Ohm]")

    @model_validator(mode="after")
    def _check(self) -> "BalancingSettings":
        if not self.stop_soc_spread < self.start_soc_spread:
            raise ValueError(f"stop_soc_spread ({self.stop_soc_spread}) must be below start_soc_spread "
                             f"({self.start_soc_spread})")
        return self


class HealthSettings(StrictModel):
    """Capacity estimation from rest to rest and cycle counting (see :mod:`fmutwin.equations.bms_health`)."""

    rest_s: float = Field(600.0, gt=0, le=86400, description="a rest this long gives the SoC from the OCV [s]")
    min_soc_change: float = Field(0.1, gt=0, le=1, description="SoC change between two rests that updates the "
                                                               "capacity estimate [1]")
    forgetting: float = Field(0.98, gt=0, le=1, description="recursive least squares forgetting factor [1]")
    initial_capacity_std: float = Field(0.1, gt=0, le=1, description="uncertainty of the initial capacity guess "
                                                                     "(the cell file's), relative [1]")
    compensate_cycles: bool = Field(True, description="count equivalent full cycles on the estimated capacity")


class BmsParameters(ParameterFile):
    """A BMS for ``n_series`` elements of ``n_parallel`` cells of one cell parameter file."""

    kind: Literal["bms"] = Field("bms", description="what this file is: a BMS parameter set")
    name: str = Field(min_length=1, description="name of this BMS set")
    source: str = Field("", description="where it came from")
    cell: CellParameters = Field(description="the cell parameter set the estimator's model runs (any ECM file, "
                                             "including one reduced by fmutwin reduce)")
    n_series: int = Field(ge=1, le=10000, description="series elements the BMS measures")
    n_parallel: int = Field(1, ge=1, le=1000, description="cells in parallel in each element")
    estimator: EstimatorSettings = Field(default_factory=EstimatorSettings, description="SoC estimation settings")
    limits: LimitSettings = Field(default_factory=LimitSettings, description="current and power limit settings")
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings, description="alarm settings")
    charge: ChargeSettings = Field(default_factory=ChargeSettings, description="CC-CV charge control settings")
    balancing: BalancingSettings = Field(default_factory=BalancingSettings, description="passive balancing settings")
    health: HealthSettings = Field(default_factory=HealthSettings, description="capacity and cycle settings")
    provenance: dict[str, Any] | None = Field(None, description="how this BMS file was produced")

    @model_validator(mode="after")
    def _consistent(self) -> "BmsParameters":
        """The alarms lie beyond the limits the BMS keeps to, and the CV voltage within them."""
        lim, mon = self.limits, self.monitoring
        if not mon.under_voltage_V < lim.min_cell_voltage_V:
            raise ValueError(f"monitoring.under_voltage_V ({mon.under_voltage_V}) must be below "
                             f"limits.min_cell_voltage_V ({lim.min_cell_voltage_V}): else the limits drive the pack "
                             "into the alarm")
        if not mon.over_voltage_V > lim.max_cell_voltage_V:
            raise ValueError(f"monitoring.over_voltage_V ({mon.over_voltage_V}) must be above "
                             f"limits.max_cell_voltage_V ({lim.max_cell_voltage_V})")
        if not self.charge.cv_voltage_V <= lim.max_cell_voltage_V - lim.voltage_margin_V:
            raise ValueError(f"charge.cv_voltage_V ({self.charge.cv_voltage_V}) must be at most "
                             "limits.max_cell_voltage_V - limits.voltage_margin_V")
        return self
