"""The command line: ``fmutwin check`` exit status and messages, ``fmutwin build``."""

from __future__ import annotations

import json
import zipfile

from click.testing import CliRunner

from fmutwin.cli import main


def test_check_passes_built_fmus_and_fails_a_broken_file(cell_fmu, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(cell_fmu(2)), str(cell_fmu(3))])
    assert ok.exit_code == 0 and ok.output.count(": OK") == 2, ok.output
    junk = tmp_path / "junk.fmu"
    junk.write_text("nope")
    bad = runner.invoke(main, ["check", str(junk)])
    assert bad.exit_code == 1 and "not an FMU" in bad.output


def test_build_writes_both_versions_into_one_folder(tmp_path):
    import fmpy

    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path), "--twin", "cell_ecm", "--no-native"])
    assert result.exit_code == 0, result.output
    for version in (2, 3):
        fmu = tmp_path / f"CellECM_fmi{version}.fmu"
        assert fmpy.read_model_description(str(fmu)).fmiVersion == f"{version}.0"
        assert f"{fmu}: OK" in result.output


def test_build_runner_and_env_of_each_kind(tmp_path, cell_fmu):
    """`fmutwin build` makes out-of-process Python FMUs unless told otherwise; `fmutwin env` says
    such an FMU needs nothing and prints the preload environment for an in-process one."""
    import fmpy

    runner = CliRunner()
    built = runner.invoke(main, ["build", "--out", str(tmp_path), "--twin", "cell_ecm", "--fmi", "3", "--no-native"])
    assert built.exit_code == 0, built.output
    fmu = tmp_path / "CellECM_fmi3.fmu"
    assert "pythonExecutable" in {v.name for v in fmpy.read_model_description(str(fmu)).modelVariables}
    said = runner.invoke(main, ["env", str(fmu)])
    assert said.exit_code == 0 and said.output.startswith("#") and "runs out of process: nothing to set" in said.output
    preload = runner.invoke(main, ["env", str(cell_fmu(3))])
    assert preload.exit_code == 0 and "export LD_PRELOAD=" in preload.output, preload.output


def test_build_with_a_broken_parameter_file_prints_one_error_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "nominal_capacity_As": ')
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path / "out"), "--parameters", str(broken)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: ") and "not valid JSON" in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_main_job_cosimulation_example_runs_the_built_fmu(cell_fmu, tmp_path):
    """The README's main job: the FMU co-simulation example writes its CSV and PNG, and the CSV
    holds the FMU's run: SOC by coulomb counting, the twin's voltage, a discharge below the OCV."""
    import csv
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    from matplotlib.image import imread

    from fmutwin.data import drive_cycle
    from fmutwin.params import default_cell_parameters
    from fmutwin.twins import CellECMTwin

    example = Path(__file__).resolve().parents[2] / "cosim_examples" / "cell_fmu_drive_cycle.py"
    proc = subprocess.run([sys.executable, str(example), "--fmu", str(cell_fmu(2)), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning" not in (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr  # a new user sees none
    rows = list(csv.DictReader((tmp_path / "cell_fmu_us06.csv").open()))
    run = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    time_s, current = drive_cycle("US06", scale=10.0)
    np.testing.assert_array_equal(run["time_s"], time_s)
    np.testing.assert_allclose(run["current_A"][1:], current[:-1], rtol=0, atol=0)
    params = default_cell_parameters()
    coulombs = np.concatenate([[0.0], np.cumsum(current[:-1] * np.diff(time_s))])
    np.testing.assert_allclose(run["soc"], 0.9 - coulombs / params.nominal_capacity_As, rtol=0, atol=1e-13)
    twin = CellECMTwin(params.with_changes(initial={"soc": 0.9, "temperature_K": 298.15})).run(time_s, current)
    np.testing.assert_allclose(run["voltage_V"][1:], twin["voltage_V"], rtol=0, atol=1e-12)
    discharging = run["current_A"] > 1.0
    drop = run["ocv_V"] - run["voltage_V"]  # overpotential: positive on average while discharging
    assert discharging.sum() > 100 and np.mean(drop[discharging]) > 5e-3 and np.mean(drop[run["current_A"] < -1]) < 0
    image = imread(tmp_path / "cell_fmu_us06.png")
    assert image.shape[0] > 800 and image.shape[1] > 900 and np.ptp(image[..., :3]) > 0.5  # a drawn figure


def test_provenance_of_the_default_fmus_names_the_shipped_source(tmp_path):
    """Every cell FMU, Python or native, carries its parameter file and says where it came from."""
    runner = CliRunner()
    built = runner.invoke(main, ["build", "--out", str(tmp_path), "--twin", "cell_ecm", "--fmi", "3"])
    assert built.exit_code == 0, built.output
    for name in ("CellECM_fmi3.fmu", "CellECMNative_fmi3.fmu"):
        result = runner.invoke(main, ["provenance", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "PyBaMM ECM example" in result.output and "BSD-3-Clause" in result.output
        assert "status: up to date" in result.output and "[stale]" not in result.output


def test_provenance_of_an_echem_module_fmu_names_its_pybamm_model_and_variation(tmp_path):
    runner = CliRunner()
    built = runner.invoke(main, ["build", "--out", str(tmp_path), "--twin", "module_echem", "--fmi", "3",
                                 "--no-native"])
    assert built.exit_code == 0, built.output
    result = runner.invoke(main, ["provenance", str(tmp_path / "ModuleEchem_fmi3.fmu")])
    assert result.exit_code == 0, result.output
    assert "module_echem_example_4s2p" in result.output and "electrochemical model: pybamm" in result.output
    assert "SPMe" in result.output and "parameters Chen2020" in result.output and "seed" in result.output
    assert "[ok] PyBaMM parameter set Chen2020" in result.output and "status: up to date" in result.output
    with zipfile.ZipFile(tmp_path / "ModuleEchem_fmi3.fmu") as fmu:
        shipped = json.loads(fmu.read("resources/module_echem_parameters.json"))
    assert len(shipped["realised"]["capacity_scale"]) == 8 and shipped["provenance"]["origin"]["variation"]


def test_provenance_of_a_module_fmu_traces_to_the_cell_source(tmp_path):
    runner = CliRunner()
    built = runner.invoke(main, ["build", "--out", str(tmp_path), "--twin", "module", "--fmi", "2", "--no-native"])
    assert built.exit_code == 0, built.output
    result = runner.invoke(main, ["provenance", str(tmp_path / "Module_fmi2.fmu")])
    assert result.exit_code == 0, result.output
    assert "module_example_12s4p" in result.output and "PyBaMM ECM example" in result.output
    assert "[ok] cell provenance record" in result.output and "status: up to date" in result.output


def test_build_native_electrochemical_fmus_from_a_cell_file_and_check_their_provenance(tmp_path):
    """``fmutwin build --parameters CELL_ECHEM_FILE --native``: the Python and the native
    CellEchem FMU of that file, checked; the native one's record names PyBaMM's model and scheme
    and re-checks against the installed PyBaMM."""
    from fmutwin.params.cell_echem import EchemCellParameters

    path = tmp_path / "spm.json"
    EchemCellParameters(name="my_spm", model="SPM", scheme="sdirk2", substeps=2).save(path)
    runner = CliRunner()
    built = runner.invoke(main, ["build", "--out", str(tmp_path / "out"), "--parameters", str(path), "--native",
                                 "--fmi", "3"])
    assert built.exit_code == 0, built.output
    assert f"{tmp_path / 'out' / 'CellEchemNative_fmi3.fmu'}: OK" in built.output, built.output
    result = runner.invoke(main, ["provenance", str(tmp_path / "out" / "CellEchemNative_fmi3.fmu")])
    assert result.exit_code == 0, result.output
    assert "my_spm" in result.output and "SPM" in result.output and "sdirk2" in result.output, result.output
    assert "status: up to date" in result.output and "[stale]" not in result.output
