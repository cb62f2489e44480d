"""The README's main job runs and writes its CSV and PNG."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cell_drive_cycle_example_writes_csv_and_png(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "cosim_examples" / "cell_drive_cycle.py"), "--out", str(tmp_path),
                    "--repeat", "1"], check=True, capture_output=True, text=True)
    rows = list(csv.DictReader((tmp_path / "cell_us06.csv").open()))
    assert len(rows) == 600 and {"time_s", "voltage_V", "soc", "current_A"} <= set(rows[0])
    png = (tmp_path / "cell_us06.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
