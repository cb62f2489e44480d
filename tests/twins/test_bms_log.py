"""``fmutwin bms analyse``: the BMS on a logged CSV. The log is made by the module twin (the
shipped 12s4p module, whose cells vary in capacity and R0, so the plant is not the estimator's
own model) over US06; the estimates follow the plant's element SoC, and bad logs are refused
naming the row and column."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from fmutwin.cli import main
from fmutwin.data import drive_cycle


def _write_log(path, rows=None, degc=False):
    from fmutwin.params.defaults import default_module_parameters
    from fmutwin.twins.module import ModuleTwin

    module = default_module_parameters()
    twin = ModuleTwin(module)
    time_s, current = drive_cycle("US06", scale=80.0)  # one 5 Ah cell's current x 80: 1.6C of 4 x 100 Ah at peak
    lines = ["time,current," + ",".join(f"V{e + 1}" for e in range(12)) + ",T1"]
    y = twin.step(0.0, 1e-3)  # the measurements at the start (1 ms at rest)
    true = []
    for k, t in enumerate(time_s):
        if k:
            y = twin.step(float(current[k]), float(time_s[k] - time_s[k - 1]))
            true.append(np.asarray(y["cell_soc"]).reshape(12, 4).mean(axis=1))
        temp = float(np.mean(y["cell_temperature_K"])) - (273.15 if degc else 0.0)
        lines.append(f"{t},{current[k] if k else 0.0}," + ",".join(f"{v:.6f}" for v in y["element_voltage_V"])
                     + f",{temp:.4f}")
    path.write_text("\n".join(lines if rows is None else rows(lines)) + "\n")
    return np.array(true)


def test_the_bms_analyses_a_logged_drive_cycle(tmp_path):
    log = tmp_path / "log.csv"
    true = _write_log(log, degc=True)
    run = CliRunner().invoke(main, ["bms", "analyse", str(log), "--out", str(tmp_path / "out"),
                                    "--temperature-unit", "degC"])
    assert run.exit_code == 0, run.output
    from fmutwin.cosim import read_results

    out = read_results(tmp_path / "out" / "bms_outputs.csv")
    estimated = np.column_stack([out[f"soc_{e + 1}"] for e in range(12)])
    error = estimated - true
    print("SoC error RMS", np.sqrt(np.mean(error[60:] ** 2)), "max", np.abs(error).max())
    assert np.sqrt(np.mean(error[60:] ** 2)) < 0.015  # measured 0.0093: mostly the start from the OCV of a flat curve
    assert np.abs(true[-1] - true[0]).max() > 0.02  # the cycle moves the SoC
    for name in ("report.md", "events.csv", "bms_analysis.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "equivalent_full_cycles" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("edit, message", [
    (lambda lines: [lines[0].replace("V3", "W3"), *lines[1:]], "11 voltage columns for the BMS file's 12 series elements"),
    (lambda lines: [lines[0], lines[1], lines[2], lines[2], *lines[3:]], "row 4, column 'time': duplicate time stamp"),
    (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], "row 3, column 'time': unsorted time stamp"),
    (lambda lines: [lines[0], lines[1].replace(",", ",x", 1), *lines[2:]], "row 2, column 'current': 'x"),
    (lambda lines: [lines[0], lines[1], *lines[200:]], "a gap of 199 s"),
    (lambda lines: [lines[0].replace("current", "I"), *lines[1:]], "no column current"),
])
def test_bad_logs_are_refused_naming_row_and_column(tmp_path, edit, message):
    log = tmp_path / "bad.csv"
    _write_log(log, rows=edit)
    run = CliRunner().invoke(main, ["bms", "analyse", str(log), "--out", str(tmp_path / "out")])
    assert run.exit_code != 0 and message in run.output, run.output


@pytest.mark.parametrize("shown", [True, False])
def test_a_progress_bar_counts_the_rows_where_asked(tmp_path, capsys, shown):
    """On a terminal (here: asked for) a progress bar counts the log's rows on stderr; elsewhere
    (CliRunner, CI logs) nothing is written."""
    from fmutwin.params.defaults import default_bms_parameters
    from fmutwin.twins.bms_log import analyse, read_log

    log = tmp_path / "log.csv"
    _write_log(log, rows=lambda lines: lines[:41])
    analyse(read_log(log, 12), default_bms_parameters(), progress=shown)
    err = capsys.readouterr().err
    assert ("bms analyse" in err and "/39 " in err) if shown else err == "", err  # 40 rows: 39 steps
