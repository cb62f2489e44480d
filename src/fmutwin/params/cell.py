"""The cell equivalent-circuit parameter set: typed, validated, saved and loaded as JSON.

Units are SI and written into every field name and description. Capacity is in ampere-seconds
(coulombs): 1 Ah = 3600 As. Currents follow fmutwin's sign convention: positive current
discharges the cell.
"""

from __future__ import annotations

from typing import Any, Literal

from typing import Annotated

from pydantic import Field, model_validator

from fmutwin.params.base import ParameterFile, StrictModel
from fmutwin.params.tables import TEMPERATURE_RANGE_K, Table, bounded

# Physical ranges: what no cell can be is refused, naming the field and the range (docs/cell_ecm.md).
T_MIN_K, T_MAX_K = TEMPERATURE_RANGE_K
#: a cell temperature [K]
Temperature = Annotated[float, Field(ge=T_MIN_K, le=T_MAX_K)]
#: series and branch resistances [Ohm]
ResistanceTable = Annotated[Table, bounded(0.0, 1e3, "Ohm", lo_open=True)]
#: RC time constants [s]
TimeConstantTable = Annotated[Table, bounded(0.0, 1e7, "s", lo_open=True)]
OcvTable = Annotated[Table, bounded(0.0, 10.0, "V")]
EntropicTable = Annotated[Table | float, bounded(-1e-2, 1e-2, "V/K")]
HysteresisVoltageTable = Annotated[Table, bounded(-1.0, 1.0, "V")]
HysteresisInstantaneousTable = Annotated[Table | float, bounded(-1.0, 1.0, "V")]
SelfDischargeTable = Annotated[Table, bounded(0.0, 1e15, "Ohm", lo_open=True)]
YEAR_S = 3.15576e7

class RCBranch(StrictModel):
    """One RC pair: resistance and time constant, optionally different while charging."""

    resistance_ohm: ResistanceTable = Field(description="branch resistance R_i [Ohm] (discharge, or both directions)")
    time_constant_s: TimeConstantTable = Field(description="branch time constant tau_i = R_i C_i [s] (discharge, or both)")
    resistance_charge_ohm: ResistanceTable | None = Field(
        None, description="branch resistance while charging (current < 0) [Ohm]; default: same as discharge")
    time_constant_charge_s: TimeConstantTable | None = Field(
        None, description="branch time constant while charging (current < 0) [s]; default: same as discharge")


class Hysteresis(StrictModel):
    """One-state hysteresis (Plett): dH/dt = -|gamma I / Q| (H + sign(I)), H in [-1, 1].

    Hysteresis voltage added to the OCV: M(SOC, T) H + M0(SOC, T) S, where S = -sign(I) of the
    last non-zero current. Both H and S go to -1 while discharging (voltage below OCV) and to +1
    while charging.
    """

    rate: float = Field(ge=0, le=1e6, description="hysteresis rate gamma [1]: H converges within ~1/gamma of charge throughput in capacities")
    max_voltage_V: HysteresisVoltageTable = Field(description="maximum hysteresis voltage M(SOC, T) [V]")
    instantaneous_voltage_V: HysteresisInstantaneousTable = Field(
        0.0, description="instantaneous hysteresis voltage M0(SOC, T) [V]")
    initial_state: float = Field(0.0, ge=-1, le=1, description="initial hysteresis state H0 [1]")


class ChargeTransfer(StrictModel):
    """Charge-transfer overpotential beside R0, Butler-Volmer in asinh form: b(SOC, T) asinh(I / I_ct(T)).

    At small currents it adds a resistance b / I_ct; at large ones it grows with log(I), as the
    reaction overpotential of an electrochemical cell does (positive I = discharge).
    """

    voltage_V: Annotated[Table, bounded(0.0, 1.0, "V")] = Field(
        description="overpotential scale b(SOC[, T]) [V] (2RT/F = 0.051 V at 25 degC for one symmetric reaction)")
    current_A: Annotated[Table | float, bounded(0.0, 1e5, "A", lo_open=True)] = Field(
        description="reference current I_ct(T) [A] (twice the exchange current of the cell)")

    @model_validator(mode="after")
    def _over_temperature(self) -> "ChargeTransfer":
        if isinstance(self.current_A, Table) and self.current_A.soc is not None:
            raise ValueError("current_A: a table over temperature_K only (I_ct(T))")
        return self


class Concentration(StrictModel):
    """Electrolyte-concentration overpotential k_e(T) e^3, with e' = (C-rate - e) / tau_e(T).

    e is a state (zero at rest): the C-rate (current / capacity per hour, positive = discharge)
    seen through a first-order lag. The cubic term is small at moderate currents and rises
    steeply under a sustained high-rate discharge, as an electrochemical cell's electrolyte
    depletes.
    """

    coefficient_V: Annotated[Table | float, bounded(0.0, 10.0, "V")] = Field(
        description="k_e(T) [V] per (C-rate)^3")
    time_constant_s: Annotated[Table | float, bounded(0.0, 1e6, "s", lo_open=True)] = Field(
        description="time constant tau_e(T) [s] of the concentration state")

    @model_validator(mode="after")
    def _over_temperature(self) -> "Concentration":
        for name in ("coefficient_V", "time_constant_s"):
            value = getattr(self, name)
            if isinstance(value, Table) and value.soc is not None:
                raise ValueError(f"{name}: a table over temperature_K only")
        return self


class Thermal(StrictModel):
    """Cell thermal model.

    ``constant``: the cell sits at the ambient temperature input (isothermal).
    ``lumped``: one thermal mass, convection hA to ambient, plus the heat-flow input.
    ``distributed``: ``nodes`` equal masses stacked along the cell height, conduction between
    neighbours, each node convecting 1/nodes of hA; the electrical model uses their mean.
    """

    model: Literal["constant", "lumped", "distributed"] = Field("lumped", description="thermal model")
    mass_J_per_K: float = Field(gt=0, le=1e9, description="cell heat capacity m c_p [J/K]")
    heat_transfer_W_per_K: float = Field(ge=0, le=1e6, description="convective conductance to ambient h A [W/K]")
    nodes: int = Field(1, ge=1, le=50, description="number of height nodes (distributed model) [1]")
    node_conductance_W_per_K: float = Field(
        0.0, ge=0, le=1e6, description="conductance between neighbouring height nodes [W/K]")

    @model_validator(mode="after")
    def _nodes(self) -> "Thermal":
        if self.model != "distributed" and self.nodes != 1:
            raise ValueError(f"nodes: {self.nodes} height nodes need model 'distributed'")
        if self.model == "distributed" and self.nodes > 1 and self.node_conductance_W_per_K <= 0:
            raise ValueError("node_conductance_W_per_K: must be > 0 for a distributed model")
        return self


class CyclingAging(StrictModel):
    """Aging with equivalent full discharges N (discharge charge throughput / nominal capacity).

    Capacity and every resistance scale by (1 + change/100 * sqrt(N / reference_cycles)); the
    OCV scales by (1 + change/100 * N / reference_cycles).
    """

    reference_cycles: float = Field(gt=0, le=1e7, description="NumDisCycles: cycles at which the changes below are reached [1]")
    capacity_change_percent: float = Field(ge=-100, le=100, description="capacity change after reference_cycles [%] (negative = fade)")
    resistance_change_percent: float = Field(ge=-100, le=1e4, description="change of R0 and every R_i after reference_cycles [%]")
    ocv_change_percent: float = Field(0.0, ge=-100, le=100, description="OCV change after reference_cycles [%]")
    initial_cycles: float = Field(0.0, ge=0, le=1e7, description="equivalent full discharges already done at start [1]")


class CalendarAging(StrictModel):
    """Calendar aging applied at initialisation from storage time, temperature and SOC or OCV.

    loss(t, T, x) = loss_ref/100 * (t / t_ref)^z * exp(-Ea/R_gas (1/T - 1/T_ref)) * exp(beta (x - x_ref))
    with x the storage SOC or normalised OCV (OCV(x) - OCV(0)) / (OCV(1) - OCV(0)). Capacity is
    multiplied by (1 - capacity loss), R0 by (1 + resistance increase).
    """

    storage_time_s: float = Field(ge=0, le=100 * YEAR_S, description="time in storage before the simulation [s]")
    storage_temperature_K: Temperature = Field(description="storage temperature [K]")
    storage_soc: float = Field(ge=0, le=1, description="storage state of charge [1]")
    storage_variable: Literal["soc", "ocv"] = Field("soc", description="stress variable x: SOC or normalised OCV")
    reference_time_s: float = Field(gt=0, le=100 * YEAR_S,
                                    description="t_ref: storage time at which the reference changes hold [s]")
    reference_temperature_K: Temperature = Field(298.15, description="T_ref [K]")
    reference_stress: float = Field(0.5, ge=0, le=1, description="x_ref: reference storage SOC or normalised OCV [1]")
    capacity_loss_percent: float = Field(ge=0, lt=100, description="capacity loss at t_ref, T_ref, x_ref [%]")
    resistance_increase_percent: float = Field(ge=0, le=1e4, description="R0 increase at t_ref, T_ref, x_ref [%]")
    time_exponent: float = Field(0.5, gt=0, le=2, description="z, exponent of storage time [1]")
    activation_energy_J_per_mol: float = Field(50e3, ge=0, le=1e6, description="Ea [J/mol]")
    stress_coefficient: float = Field(1.0, ge=-100, le=100, description="beta, sensitivity to the storage variable [1]")


class Trigger(StrictModel):
    """When a fault becomes active (and stays active): at a time, or above a temperature."""

    kind: Literal["time", "temperature"] = Field(description="trigger on simulation time or on cell temperature")
    time_s: float = Field(0.0, ge=0, le=1e10, description="activation time for kind 'time' [s]")
    temperature_K: float = Field(1e4, ge=T_MIN_K, le=1e4, description="activation temperature for kind 'temperature' "
                                 "[K] (1e4 K: never)")


class InternalShort(StrictModel):
    """Internal short: a resistance in parallel with the OCV source, drawing OCV/R and heating the cell."""

    trigger: Trigger
    resistance_ohm: float = Field(gt=0, le=1e9, description="short resistance [Ohm]")


class SeriesResistanceFault(StrictModel):
    """Added series resistance (a degraded weld or tab); ``open_circuit`` interrupts the current."""

    trigger: Trigger
    resistance_ohm: float = Field(0.0, ge=0, le=1e6, description="added series resistance [Ohm]")
    open_circuit: bool = Field(False, description="the connection is open once active: the cell current is zero")


class ExothermicReaction(StrictModel):
    """Lumped exothermic decomposition: dxi/dt = K_scale exp(-Ea / (R_gas T)) (1 - xi)^n.

    K_scale follows from the onset temperature: in an adiabatic ARC test the self-heating rate at
    onset (xi = 0) is 0.02 degC/min, i.e. reaction_heat_J * K_scale exp(-Ea/(R T_on)) / (m c_p) =
    0.02/60 K/s. Heat released: reaction_heat_J dxi/dt. The thermal mass shrinks to
    m c_p (1 - vented_mass_fraction xi) as material is vented.
    """

    trigger: Trigger
    onset_temperature_K: Temperature = Field(description="exotherm onset temperature in an ARC test [K]")
    activation_energy_J_per_mol: float = Field(gt=0, le=1e7, description="Ea of the lumped reaction [J/mol]")
    reaction_order: float = Field(1.0, gt=0, le=4, description="n, order of reaction [1]")
    reaction_heat_J: float = Field(gt=0, le=1e10, description="heat released by the complete reaction [J]")
    vented_mass_fraction: float = Field(0.0, ge=0, lt=1, description="fraction of the thermal mass vented at xi = 1 [1]")
    burnt_extent: float = Field(0.99, gt=0, le=1, description="reaction extent above which the cell is electrically open [1]")


class CurrentInterruption(StrictModel):
    """Current interrupt device: opens (for good) once the cell temperature exceeds a limit."""

    temperature_K: Temperature = Field(description="interruption temperature [K]")


class Faults(StrictModel):
    """Optional faults; each has its own trigger."""

    internal_short: InternalShort | None = None
    series_resistance: SeriesResistanceFault | None = None
    exothermic_reaction: ExothermicReaction | None = None
    current_interruption: CurrentInterruption | None = None


class Initial(StrictModel):
    """Initial conditions."""

    soc: float = Field(1.0, ge=0, le=1, description="initial state of charge [1]")
    temperature_K: Temperature = Field(298.15, description="initial cell temperature [K]")
    rc_voltages_V: list[Annotated[float, Field(ge=-10, le=10)]] = Field(
        default_factory=list, description="initial RC branch voltages [V]; default 0")


class CellParameters(ParameterFile):
    """Everything that defines one cell equivalent-circuit model.

    Sign convention: positive current discharges the cell.
    """

    name: str = Field(description="short name of the parameter set")
    source: str = Field(description="where the numbers come from (reference, licence, provenance)")
    nominal_capacity_As: float = Field(gt=0, le=1e8, description="nominal capacity [As] (1 Ah = 3600 As): the "
                                       "capacity SOC counts, see capacity_basis")
    capacity_basis: Literal["rated", "electrode window"] = Field(
        "rated", description="what nominal_capacity_As (so the SOC) counts: the cell's rated capacity, or the "
        "capacity between the electrode stoichiometries at 0 % and 100 % SOC of PyBaMM's electrode SOH (an ECM "
        "reduced from an electrochemical model: the SOC of PyBaMM's initial_soc)")
    ocv_V: OcvTable = Field(description="open-circuit voltage OCV(SOC[, T]) [V]")
    entropic_coefficient_V_per_K: EntropicTable = Field(
        0.0, description="dOCV/dT (SOC[, T]) [V/K]; reversible heat = -I T dOCV/dT (positive I = discharge)")
    r0_ohm: ResistanceTable = Field(description="series resistance R0 (discharge, or both directions) [Ohm]")
    r0_charge_ohm: ResistanceTable | None = Field(None, description="series resistance while charging [Ohm]; default: same as discharge")
    rc_branches: list[RCBranch] = Field(default_factory=list, max_length=3, description="0 to 3 RC pairs")
    charge_transfer: ChargeTransfer | None = Field(None, description="charge-transfer overpotential; None: R0 only")
    concentration: Concentration | None = Field(None, description="electrolyte-concentration overpotential; None: none")
    hysteresis: Hysteresis | None = None
    self_discharge_resistance_ohm: SelfDischargeTable | None = Field(
        None, description="self-discharge resistance R_SD(T) [Ohm] across the OCV source; None: no self-discharge")
    thermal: Thermal
    cycling_aging: CyclingAging | None = None
    calendar_aging: CalendarAging | None = None
    faults: Faults = Field(default_factory=Faults)
    initial: Initial = Field(default_factory=Initial)
    soc_limits: tuple[float, float] = Field((0.0, 1.0), description="SOC range outside which the twin warns [1]")
    provenance: dict[str, Any] | None = Field(
        None, description="how this parameter set was produced (models, data and their hashes, fit, validation, "
        "code versions); written by fmutwin.reduction, read by `fmutwin provenance`, see fmutwin.provenance")

    @model_validator(mode="after")
    def _check(self) -> "CellParameters":
        if self.self_discharge_resistance_ohm is not None and self.self_discharge_resistance_ohm.soc is not None:
            raise ValueError("self_discharge_resistance_ohm: a table over temperature_K only (R_SD(T))")
        lo, hi = self.soc_limits
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"soc_limits: ({lo}, {hi}) must satisfy 0 <= lower < upper <= 1")
        if self.initial.rc_voltages_V and len(self.initial.rc_voltages_V) != len(self.rc_branches):
            raise ValueError(f"initial.rc_voltages_V: {len(self.initial.rc_voltages_V)} values for "
                             f"{len(self.rc_branches)} RC branches")
        return self

    # ---- JSON ----------------------------------------------------------------------------
    def with_changes(self, **changes: object) -> "CellParameters":
        """A validated copy with top-level fields replaced (``thermal=...``, ``initial=...``)."""
        data = self.model_dump(exclude_none=True)
        for key, value in changes.items():
            data[key] = value.model_dump(exclude_none=True) if isinstance(value, StrictModel) else value
        return type(self).from_dict(data)
