"""End to end: `fmutwin reduce` on PyBaMM's DFN with Chen2020 at 25 degC, then the FMU it built.

Asserts, on held-out experiments only (as the pipeline recorded them, ECM twin vs DFN):
issue 7's targets on the shared cycles (RMS <= 10 mV, max <= 40 mV), and, independently here for
US06 from SOC 0.8, the built FMI 2.0 FMU stepped by fmpy against the electrochemical twin;
issue 17's high-rate cases (cycles scaled to peak at 3C, constant-current discharges to the
cut-off) at a small margin above the accuracy measured with the nonlinear ECM, and issue 17's
own targets as a strict xfail (not met: see docs/reduction.md, "Linear or nonlinear ECM").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from _fmpy_host import FmpyHost

from fmutwin import provenance
from fmutwin.data import data_dir
from fmutwin.params.cell import CellParameters
from fmutwin.reduction.experiments import EchemSource, drive_cycle_profile
from fmutwin.registry import load_parameter_file
from fmutwin.twins.cell_echem import CellEchemTwin

pytestmark = pytest.mark.slow

RMS_LIMIT_V = 10e-3
MAX_LIMIT_V = 40e-3


@pytest.fixture(scope="module")
def reduced(reduced_chen2020_dir: Path) -> Path:
    return reduced_chen2020_dir  # the session's reduction (tests/conftest.py), shared with the BMS's tests


SHARED_CYCLES = {"US06@0.8", "US06@0.4", "WLTC@0.8", "WLTC@0.4"}
#: (RMS, max) limits [V] of the high-rate held-out cases: measured at 25 degC (nonlinear ECM)
#: 4.5/10, 4.5/14, 6.3/26, 11.5/77 mV for the 3C cycles, 6.4/20, 27/65, 71/182 mV for the discharges
HIGH_RATE_LIMITS_V = {"US06@0.9x3C": (7e-3, 16e-3), "US06@0.5x3C": (7e-3, 21e-3), "WLTC@0.9x3C": (9e-3, 35e-3),
                      "WLTC@0.5x3C": (15e-3, 100e-3), "CC0.5C@1": (9e-3, 28e-3), "CC2C@1": (35e-3, 85e-3),
                      "CC3C@1": (90e-3, 230e-3)}


def _held_out(reduced: Path) -> dict[str, dict]:
    record = CellParameters.load(reduced / "chen2020_dfn_2rc.json").provenance
    fitted = set(record["fit"]["per_temperature"][0]["residuals"])
    assert fitted == {"HPPC", "UDDS@0.7", "UDDS@0.9x3C", "CC1C@1", "CC2.5C@1"}
    held_out = {v["experiment"]: v for v in record["validation"] if v["temperature_K"] == 298.15}
    assert set(held_out) == SHARED_CYCLES | set(HIGH_RATE_LIMITS_V)
    assert not fitted & set(held_out)
    return held_out


def test_held_out_cycles_meet_the_targets(reduced: Path) -> None:
    held_out = _held_out(reduced)
    for name in SHARED_CYCLES:
        v = held_out[name]
        assert v["rms_V"] <= RMS_LIMIT_V and v["max_V"] <= MAX_LIMIT_V, v
    for name, (rms, largest) in HIGH_RATE_LIMITS_V.items():
        v = held_out[name]
        assert v["rms_V"] <= rms and v["max_V"] <= largest, v


@pytest.mark.xfail(strict=True, reason="issue 17's targets are not met yet: the WLTC from SOC 0.5 peaking at 3C "
                   "(11.5 mV RMS, 77 mV max) and the 2C and 3C discharges (27 and 71 mV RMS)")
def test_issue_17_targets_at_25_degC(reduced: Path) -> None:
    held_out = _held_out(reduced)
    for name in ("US06@0.9x3C", "US06@0.5x3C", "WLTC@0.9x3C", "WLTC@0.5x3C"):
        assert held_out[name]["rms_V"] <= 5e-3 and held_out[name]["max_V"] <= 30e-3, held_out[name]
    for name in ("CC0.5C@1", "CC2C@1", "CC3C@1"):
        assert held_out[name]["rms_V"] <= 15e-3, held_out[name]


def test_the_fitted_range_is_recorded_and_the_ecm_warns_beyond_it(reduced: Path) -> None:
    params = CellParameters.load(reduced / "chen2020_dfn_2rc.json")
    assert params.provenance["fitted_range"] == {"max_discharge_current_A": pytest.approx(15.0),
                                                 "max_charge_current_A": pytest.approx(15.0),
                                                 "min_temperature_K": 298.15, "max_temperature_K": 298.15}
    assert params.charge_transfer is not None and params.concentration is not None
    from fmutwin.twins.cell_ecm import CellECMTwin, FittedRangeWarning

    twin = CellECMTwin(params.with_changes(initial={"soc": 0.5, "temperature_K": 298.15}))
    with pytest.warns(FittedRangeWarning, match="discharge current 20 A"):
        twin.step(20.0, 1.0, 298.15)


def test_provenance_names_every_input_and_checks_clean(reduced: Path) -> None:
    params = CellParameters.load(reduced / "chen2020_dfn_2rc.json")
    record = params.provenance
    assert record["source_model"]["model"] == "DFN" and record["source_model"]["parameter_set"] == "Chen2020"
    source = EchemSource("DFN", "Chen2020")
    assert record["source_model"]["parameter_values_sha256"] == provenance.parameter_values_sha256(source.parameter_values())
    files = {e["data"]["path"]: e["data"]["sha256"] for e in record["experiments"] if "data" in e}
    for name in ("US06", "UDDS", "WLTC"):
        path = str((data_dir() / "drive_cycles" / f"{name}.csv").resolve())
        assert files[path] == provenance.file_sha256(path)
    packages = record["environment"]["packages"]
    assert all(packages[p] for p in ("pybamm", "numpy", "scipy", "casadi"))
    assert record["generated_by"]["command"].startswith("fmutwin reduce")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    if head.returncode == 0:  # running from a git checkout: the record names its commit
        assert record["generated_by"]["git"]["commit"] == head.stdout.strip()
    settings = record["fit"]["settings"]
    assert settings["n_rc"] == 2 and settings["high_current_weight"] == 5.0 and settings["tau_bounds_s"]
    assert record["config"]["temperatures_K"] == [298.15]
    assert {f.status for f in provenance.check(params)} == {"ok"}


def test_built_fmu_tracks_the_dfn_on_us06(reduced: Path) -> None:
    fmu = reduced / "CellECM_fmi2.fmu"
    inside, facts, findings = provenance.read_fmu(fmu, load_parameter_file)
    assert [f.status for f in findings] == ["ok"] and facts["sourceModel"] == "pybamm DFN Chen2020"
    profile = drive_cycle_profile("US06", 5.0, 0.8)
    dfn = CellEchemTwin("DFN", "Chen2020", initial_soc=0.8, ambient_temperature_K=298.15)
    reference = dfn.run(profile.time_s, profile.current_A)["voltage_V"]
    host = FmpyHost(fmu)
    try:
        host.initialize(initialSoc=0.8, initialTemperature=298.15, thermalMass=1e9)  # isothermal like the DFN run
        volts = []
        for current, dt in zip(profile.current_A, profile.dt_s):
            host.set(current=float(current), ambientTemperature=298.15)
            host.step(float(dt))
            volts.append(host.get("batteryVoltage")[0])
    finally:
        host.close()
    err = np.asarray(volts) - reference
    assert np.sqrt(np.mean(err ** 2)) <= RMS_LIMIT_V and np.max(np.abs(err)) <= MAX_LIMIT_V
