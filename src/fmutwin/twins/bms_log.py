"""Offline BMS analysis of a logged CSV (``fmutwin bms analyse LOG.csv``): the BMS twin's
algorithms run on logged measurements, as they would run on the vehicle.

The log holds a time column [s], the pack current (positive = discharge, or ``current_sign=-1``
for logs that count charge positive), one column per series element voltage [V] and one per
element temperature (or a single temperature for the whole pack) in K or degC. Columns are found
by name: ``time_column``, ``current_column``, and the columns whose names start with
``voltage_prefix`` / ``temperature_prefix`` in the order of the number that follows (``V1`` ..
``V96``). Row k's current is held over ``[t_k-1, t_k]`` and its voltages and temperatures are
measured at ``t_k`` (the first row is the start).

Refused with a ``LogError`` naming the row and column: a missing column, a cell that is not a
number, time stamps that do not increase (unsorted or duplicate), a gap longer than ``max_gap_s``,
a voltage count that is not the BMS file's series elements.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmutwin.params.bms import BmsParameters
from fmutwin.twins.bms import BmsTwin


class LogError(ValueError):
    """A log that cannot be analysed; the message names the file, row and column."""


@dataclass
class Log:
    time_s: np.ndarray
    current_A: np.ndarray
    element_voltage_V: np.ndarray  # (rows, elements)
    temperature_K: np.ndarray  # (rows, elements)


def read_log(path: str | Path, n_series: int, time_column: str = "time", current_column: str = "current",
             voltage_prefix: str = "V", temperature_prefix: str = "T", temperature_unit: str = "K",
             current_sign: float = 1.0, max_gap_s: float = 60.0) -> Log:
    """The log's measurements, checked (see the module docstring)."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(line for line in f if not line.lstrip().startswith("#")) if r]
    except OSError as exc:
        raise LogError(f"{path}: {exc}") from None
    if len(rows) < 3:
        raise LogError(f"{path}: a header and at least two rows of measurements are needed")
    header = [h.strip() for h in rows[0]]

    def numbered(prefix: str) -> list[int]:
        found = [(int(m.group(1)), i) for i, h in enumerate(header) if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", h))]
        return [i for _, i in sorted(found)]

    missing = [c for c in (time_column, current_column) if c not in header]
    volts, temps = numbered(voltage_prefix), numbered(temperature_prefix)
    if missing or not volts or not temps:
        what = missing + ([f"{voltage_prefix}1..{voltage_prefix}{n_series}"] if not volts else []) + \
            ([f"{temperature_prefix}1.."] if not temps else [])
        raise LogError(f"{path}: no column {', '.join(what)} (columns: {', '.join(header)})")
    if len(volts) != n_series:
        raise LogError(f"{path}: {len(volts)} voltage columns for the BMS file's {n_series} series elements")
    if len(temps) not in (1, n_series):
        raise LogError(f"{path}: {len(temps)} temperature columns: give one per element ({n_series}) or one")
    columns = [header.index(time_column), header.index(current_column), *volts, *temps]
    data = np.empty((len(rows) - 1, len(columns)))
    for k, row in enumerate(rows[1:]):
        for j, c in enumerate(columns):
            try:
                data[k, j] = float(row[c])
            except (ValueError, IndexError):
                value = row[c] if c < len(row) else "(missing)"
                raise LogError(f"{path}: row {k + 2}, column {header[c]!r}: {value!r} is not a number") from None
            if not np.isfinite(data[k, j]):
                raise LogError(f"{path}: row {k + 2}, column {header[c]!r}: {row[c]!r} is not finite")
    time_s = data[:, 0]
    dt = np.diff(time_s)
    if np.any(dt <= 0):
        k = int(np.argmax(dt <= 0))
        kind = "duplicate" if dt[k] == 0 else "unsorted"
        raise LogError(f"{path}: row {k + 3}, column {time_column!r}: {kind} time stamp {time_s[k + 1]:g} s after "
                       f"{time_s[k]:g} s")
    if np.any(dt > max_gap_s):
        k = int(np.argmax(dt > max_gap_s))
        raise LogError(f"{path}: row {k + 3}, column {time_column!r}: a gap of {dt[k]:g} s (from {time_s[k]:g} s), "
                       f"more than max_gap_s = {max_gap_s:g} s")
    t = data[:, 2 + n_series:]
    t = t + 273.15 if temperature_unit == "degC" else t
    if t.shape[1] == 1:
        t = np.repeat(t, n_series, axis=1)
    return Log(time_s, current_sign * data[:, 1], data[:, 2:2 + n_series], t)


def analyse(log: Log, params: BmsParameters, progress: bool | None = None) -> dict[str, np.ndarray]:
    """The BMS twin over the log: every output at each logged time after the first. ``progress``:
    a tqdm progress bar over the rows (None: only on a terminal)."""
    import sys

    from tqdm import tqdm

    twin = BmsTwin(params)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(log.time_s) - 1, desc="bms analyse", unit="row", leave=False, disable=not show) as bar:
        return twin.run(log.time_s, log.current_A[1:], log.element_voltage_V[1:], log.temperature_K[1:],
                        progress=bar.update)


def events(time_s: np.ndarray, result: dict[str, np.ndarray]) -> list[tuple[float, str, str]]:
    """(time, alarm, "set" or "cleared") for every change of every alarm output."""
    out = []
    for key in sorted(k for k in result if k.startswith("alarm_") and k != "alarm_any"):
        flags = np.asarray(result[key]) > 0.5
        flags = flags.reshape(len(flags), -1)
        for e in range(flags.shape[1]):
            previous = np.concatenate([[False], flags[:-1, e]])
            name = key[len("alarm_"):] + (f"[{e + 1}]" if flags.shape[1] > 1 else "")
            for k in np.flatnonzero(flags[:, e] != previous):
                out.append((float(time_s[k]), name, "set" if flags[k, e] else "cleared"))
    return sorted(out)


def write_report(out: Path, log: Log, result: dict[str, np.ndarray], params: BmsParameters) -> dict[str, Any]:
    """``bms_outputs.csv`` (pack-level outputs and each element's SoC), ``events.csv``,
    ``report.md`` and ``bms_analysis.png`` in ``out``; the summary numbers."""
    from fmutwin.report import plot_bms_log, write_csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = log.time_s[1:]
    soc = np.asarray(result["soc"]).reshape(len(t), -1)
    columns = {"time_s": t, "current_A": log.current_A[1:]}
    columns.update({k: np.asarray(v) for k, v in result.items() if np.ndim(v) == 1})
    columns.update({f"soc_{e + 1}": soc[:, e] for e in range(soc.shape[1])})
    write_csv(out / "bms_outputs.csv", columns)
    table = events(t, result)
    with open(out / "events.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "alarm", "change"])
        w.writerows(table)
    spread = log.element_voltage_V[1:].max(axis=1) - log.element_voltage_V[1:].min(axis=1)
    summary = {
        "rows": len(log.time_s), "duration_s": float(log.time_s[-1] - log.time_s[0]),
        "soc_start": float(np.mean(soc[0])), "soc_end": float(np.mean(soc[-1])),
        "equivalent_full_cycles": float(np.asarray(result["equivalent_full_cycles"])[-1]),
        "coulombic_efficiency": float(np.asarray(result["coulombic_efficiency"])[-1]),
        "max_voltage_spread_V": float(spread.max()), "final_soc_spread": float(np.asarray(result["soc_spread"])[-1]),
        "final_soc_spread_std": float(np.asarray(result["soc_spread_std"])[-1]),
        "min_soh_capacity": float(np.min(np.asarray(result["soh_capacity"])[-1])),
        "alarm_events": len(table)}
    lines = [f"# BMS analysis of {params.name}'s log", "", "| quantity | value |", "|---|---|",
             *(f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in summary.items()),
             "", "## Alarm events", "", "| time [s] | alarm | change |", "|---|---|---|",
             *(f"| {tm:g} | {name} | {change} |" for tm, name, change in table[:200])]
    if len(table) > 200:
        lines.append(f"| ... | {len(table) - 200} more in events.csv | |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    plot_bms_log(out / "bms_analysis.png", t, log.current_A[1:], soc, spread, result, params.name)
    return summary
