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
