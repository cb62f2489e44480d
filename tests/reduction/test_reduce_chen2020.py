"""End to end: `fmutwin reduce` on PyBaMM's DFN with Chen2020 at 25 degC, then the FMU it built.

Asserts the issue's targets on the held-out drive cycles (RMS <= 10 mV, max <= 40 mV): as the
pipeline recorded them (ECM twin vs DFN), and independently here for US06 from SOC 0.8, with the
built FMI 2.0 FMU stepped by fmpy against the electrochemical twin stepped by this test.
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


def test_held_out_cycles_meet_the_targets(reduced: Path) -> None:
    params = CellParameters.load(reduced / "chen2020_dfn_2rc.json")
    record = params.provenance
    fitted = set(record["fit"]["per_temperature"][0]["residuals"])
    held_out = [v for v in record["validation"] if v["temperature_K"] == 298.15]
    assert fitted == {"HPPC", "UDDS@0.7"}
    assert {v["experiment"] for v in held_out} == {"US06@0.8", "US06@0.4", "WLTC@0.8", "WLTC@0.4"}
    assert not fitted & {v["experiment"] for v in held_out}
    for v in held_out:
        assert v["rms_V"] <= RMS_LIMIT_V and v["max_V"] <= MAX_LIMIT_V, v


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
