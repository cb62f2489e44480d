"""Provenance: records sealed into parameter files and FMUs, read back, hashes recomputed.

The FMU test builds real FMUs (Python FMI 2.0 and 3.0, native FMI 2.0) from a parameter file
with ``python -m fmutwin.cli build --parameters`` in a fresh process, checks that the FMUs run on
that file's numbers (against the cell twin), and that `fmutwin provenance` reads the chain back
and reports tampering as stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _fmpy_host import FmpyHost

from fmutwin import provenance
from fmutwin.params.cell import CellParameters
from fmutwin.registry import CELL_PARAMETER_FILE, load_parameter_file
from fmutwin.twins.cell_ecm import CellECMTwin


def small_cell() -> CellParameters:
    """A 2 Ah cell with 1 RC pair over (SOC, T) tables: unlike the shipped default in every number."""
    return CellParameters.from_dict({
        "name": "provenance_test_cell", "source": "test", "nominal_capacity_As": 7200.0,
        "ocv_V": {"soc": [0.0, 0.5, 1.0], "values": [3.0, 3.6, 4.1]},
        "r0_ohm": {"soc": [0.0, 1.0], "temperature_K": [288.15, 308.15], "values": [[0.05, 0.03], [0.04, 0.02]]},
        "rc_branches": [{"resistance_ohm": 0.01, "time_constant_s": {"temperature_K": [288.15, 308.15],
                                                                     "values": [30.0, 20.0]}}],
        "thermal": {"model": "lumped", "mass_J_per_K": 40.0, "heat_transfer_W_per_K": 0.05},
        "initial": {"soc": 0.9, "temperature_K": 298.15}})


def record_with(data_file: Path) -> dict:
    import pybamm

    values = pybamm.ParameterValues("Chen2020")
    return {"generated_by": provenance.generated_by("test"), "environment": provenance.environment(),
            "source_model": {"framework": "pybamm", "model": "DFN", "parameter_set": "Chen2020",
                             "parameter_values_sha256": provenance.parameter_values_sha256(values),
                             "pybamm_version": pybamm.__version__},
            "experiments": [{"name": "pulses", "role": "fit", "data": provenance.file_record(data_file, "data")}],
            "validation": [{"experiment": "US06@0.8", "temperature_K": 298.15, "rms_V": 0.005, "max_V": 0.02}]}


@pytest.fixture()
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "measured.csv"
    data.write_text("0,3.7\n1,3.6\n")
    path = tmp_path / "cell.json"
    provenance.attach(small_cell(), record_with(data)).save(path)
    return path, data


def statuses(path: Path) -> dict[str, str]:
    return {f.what: f.status for f in provenance.check(CellParameters.load(path))}


def test_round_trip_recomputes_every_hash(sealed) -> None:
    path, data = sealed
    params = CellParameters.load(path)
    assert params.provenance["content_sha256"] == provenance.content_sha256(small_cell())
    entry = params.provenance["experiments"][0]["data"]
    assert entry["sha256"] == provenance.file_sha256(data) and entry["path"] == str(data.resolve())
    found = statuses(path)
    assert set(found.values()) == {"ok"}, found
    assert "PyBaMM parameter set Chen2020" in found
    lines, stale = provenance.main_text(path, load_parameter_file)
    assert not stale and lines[-1].startswith("status: up to date")
    assert any("DFN" in line and "Chen2020" in line for line in lines)


def test_changed_input_file_is_stale_and_missing_is_unverified(sealed) -> None:
    path, data = sealed
    data.write_text("0,3.7\n1,3.5\n")
    assert statuses(path)["data measured.csv"] == "stale"
    assert provenance.main_text(path, load_parameter_file)[1]
    data.unlink()
    assert statuses(path)["data measured.csv"] == "unverified"
    assert not provenance.main_text(path, load_parameter_file)[1]


def test_edited_parameter_file_is_stale(sealed) -> None:
    path, _ = sealed
    raw = json.loads(path.read_text())
    raw["rc_branches"][0]["resistance_ohm"]["values"] = 0.011
    path.write_text(json.dumps(raw))
    assert statuses(path)["parameter content"] == "stale"


def test_changed_parameter_set_is_stale(sealed) -> None:
    path, _ = sealed
    raw = json.loads(path.read_text())
    raw["provenance"]["source_model"]["parameter_values_sha256"] = "0" * 64
    path.write_text(json.dumps(raw))
    assert statuses(path)["PyBaMM parameter set Chen2020"] == "stale"


def test_file_without_provenance_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    small_cell().save(path)
    with pytest.raises(ValueError, match="no provenance record"):
        provenance.main_text(path, load_parameter_file)
    cli = subprocess.run([sys.executable, "-m", "fmutwin.cli", "provenance", str(path)], capture_output=True, text=True)
    assert cli.returncode == 1 and "no provenance record" in cli.stderr


def _fmpy_run(fmu: Path, currents: list[float], dt: float) -> tuple[dict, list[float]]:
    """Start values, and the voltage after each step with the given currents, through fmpy."""
    host = FmpyHost(fmu)
    try:
        starts = {name: var.start for name, var in host.vars.items()}
        host.initialize()
        volts = []
        for current in currents:
            host.set(current=current)
            try:
                host.step(dt)
            except Exception as exc:
                raise AssertionError(f"{fmu.name} at t = {host.time}: {exc}; log: {host.errors()}") from exc
            volts.append(host.get("batteryVoltage")[0])
    finally:
        host.close()
    return starts, volts


def test_edited_record_is_stale(sealed) -> None:
    path, _ = sealed
    raw = json.loads(path.read_text())
    raw["provenance"]["validation"][0]["rms_V"] = 0.001
    path.write_text(json.dumps(raw))
    assert statuses(path)["provenance record"] == "stale"


def test_default_fmu_ships_its_parameter_file_and_ignores_the_build_variable_at_run_time(
        tmp_path: Path, monkeypatch) -> None:
    """Declared variables (and so value references) at run time are those of the file inside the
    FMU, even where FMUTWIN_CELL_PARAMETERS names another file (it only matters while building)."""
    from fmutwin.fmi.build import build_python_fmu
    from fmutwin.params.defaults import CELL_FILE_ENV, default_cell_file
    from fmutwin.registry import twin

    monkeypatch.delenv(CELL_FILE_ENV, raising=False)
    fmu = build_python_fmu(twin("cell_ecm"), 3, tmp_path)
    with zipfile.ZipFile(fmu) as z:
        assert z.read(f"resources/{CELL_PARAMETER_FILE}") == default_cell_file().read_bytes()
    default = CellParameters.load(default_cell_file())
    other = tmp_path / "other.json"
    small_cell().save(other)  # fewer tables: other value references if it were declared from
    monkeypatch.setenv(CELL_FILE_ENV, str(other))
    reference = CellECMTwin(default).run(np.arange(11.0), np.full(11, 20.0))["voltage_V"]
    _, volts = _fmpy_run(fmu, [20.0] * 10, 1.0)
    np.testing.assert_allclose(volts, reference, rtol=1e-12)


def test_fmus_built_from_a_parameter_file_carry_and_use_it(sealed, tmp_path: Path, monkeypatch) -> None:
    path, _ = sealed
    out = tmp_path / "fmus"
    build = subprocess.run([sys.executable, "-m", "fmutwin.cli", "build", "--parameters", str(path), "--out", str(out),
                            "--fmi", "2", "--fmi", "3", "--native"], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout + build.stderr  # includes XSD + fmpy validation of each FMU
    fmus = sorted(out.glob("*.fmu"))
    assert [f.name for f in fmus] == ["CellECMNative_fmi2.fmu", "CellECMNative_fmi3.fmu", "CellECM_fmi2.fmu",
                                      "CellECM_fmi3.fmu"]
    params = CellParameters.load(path)
    from fmutwin.params.defaults import CELL_FILE_ENV, default_cell_file

    monkeypatch.setenv(CELL_FILE_ENV, str(default_cell_file()))  # must not matter at run time
    currents = [2.0] * 30 + [-1.0] * 30
    reference = CellECMTwin(params).run(np.arange(61.0), np.array(currents + [0.0]))["voltage_V"]
    for fmu in fmus:
        inside, facts, findings = provenance.read_fmu(fmu, load_parameter_file)
        assert inside == params and facts["parameterFileSha256"] == provenance.file_sha256(path)
        assert [f.status for f in findings] == ["ok"]
        cli = subprocess.run([sys.executable, "-m", "fmutwin.cli", "provenance", str(fmu)], capture_output=True,
                             text=True)
        assert cli.returncode == 0 and "Chen2020" in cli.stdout and "status: up to date" in cli.stdout, cli.stdout
        starts, volts = _fmpy_run(fmu, currents, 1.0)
        assert float(starts["nominalCapacity"]) == 7200.0 and float(starts["initialSoc"]) == 0.9
        np.testing.assert_allclose(volts, reference, rtol=1e-9, err_msg=fmu.name)
    # tampering with the file inside an FMU is detected
    fmu = out / "CellECM_fmi2.fmu"
    with zipfile.ZipFile(fmu) as z:
        items = {n: z.read(n) for n in z.namelist()}
    raw = json.loads(items[f"resources/{CELL_PARAMETER_FILE}"])
    raw["nominal_capacity_As"] = 7300.0
    items[f"resources/{CELL_PARAMETER_FILE}"] = json.dumps(raw).encode()
    with zipfile.ZipFile(fmu, "w") as z:
        for name, data in items.items():
            z.writestr(name, data)
    cli = subprocess.run([sys.executable, "-m", "fmutwin.cli", "provenance", str(fmu)], capture_output=True, text=True)
    assert cli.returncode == 2 and "STALE" in cli.stdout
