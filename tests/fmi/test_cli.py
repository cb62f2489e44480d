"""The command line: ``fmutwin check`` exit status and messages, ``fmutwin build``."""

from __future__ import annotations

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
    result = CliRunner().invoke(main, ["build", "--out", str(tmp_path), "--fmi", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "CellECM_fmi2.fmu").is_file() and "OK" in result.output


def test_main_job_cosimulation_example_runs_the_built_fmu(cell_fmu, tmp_path):
    """The README's main job: the FMU co-simulation example writes its CSV and PNG and agrees
    with the twin."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "cosim_examples" / "cell_fmu_drive_cycle.py"
    proc = subprocess.run([sys.executable, str(example), "--fmu", str(cell_fmu(2)), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "cell_fmu_us06.csv").is_file() and (tmp_path / "cell_fmu_us06.png").stat().st_size > 10_000
    deviation = float(proc.stdout.rsplit("=", 1)[1].split()[0])
    assert deviation < 1e-9
