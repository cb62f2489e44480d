"""Observers: what the master records at each communication point, apart from how it steps.

Each observer names the signals it wants (endpoints as in the system description:
``module1.cellVoltage``, ``bms.soc[1:12]``; inputs or outputs; default every output of every
component) and a decimation factor (every k-th point). :class:`Recorder` keeps them in memory,
:class:`FileWriter` streams them to CSV (flushed row by row) or Parquet (a folder of complete
part files, one per ``rows_per_part`` rows, so a killed run loses at most the rows of the part
being filled), :class:`LastValue` only the latest.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np


class Observer:
    """Base: ``variables`` (endpoints; None = every output), ``decimation`` k >= 1."""

    def __init__(self, variables: Sequence[str] | None = None, decimation: int = 1) -> None:
        if decimation < 1:
            raise ValueError(f"decimation {decimation} must be >= 1")
        self.variables = None if variables is None else list(variables)
        self.decimation = int(decimation)
        self.columns: list[str] = []
        self._picks: list[tuple[np.ndarray, Any]] = []  # per column block: (source vector, indices)
        self._count = 0

    def bind(self, execution: Any) -> None:
        """Resolve the variables against the running execution (called once before the run)."""
        self.columns, self._picks = execution.select(self.variables)

    def observe(self, time_s: float) -> None:
        """Called at every communication point (the first at the start time)."""
        if self._count % self.decimation == 0:
            row = np.concatenate([[time_s], *(vec if idx is None else vec[idx] for vec, idx in self._picks)])
            self._write(row)
        self._count += 1

    def _write(self, row: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release (called once, also when the run fails)."""


class Recorder(Observer):
    """Every observed row in memory; :meth:`result` gives one array per column (``time`` first)."""

    def __init__(self, variables: Sequence[str] | None = None, decimation: int = 1) -> None:
        super().__init__(variables, decimation)
        self.rows: list[np.ndarray] = []

    def _write(self, row: np.ndarray) -> None:
        self.rows.append(row)

    def result(self) -> dict[str, np.ndarray]:
        data = np.array(self.rows) if self.rows else np.zeros((0, len(self.columns) + 1))
        return {name: data[:, i] for i, name in enumerate(["time", *self.columns])}


class LastValue(Observer):
    """Only the latest observed values, by column."""

    def __init__(self, variables: Sequence[str] | None = None) -> None:
        super().__init__(variables, 1)
        self.values: dict[str, float] = {}

    def _write(self, row: np.ndarray) -> None:
        self.values = dict(zip(["time", *self.columns], row.tolist()))


class FileWriter(Observer):
    """Streams rows to ``path``: ``.csv`` (one row written and flushed per point) or ``.parquet``
    (a folder of part files, each complete when written). ``metadata`` (e.g. the provenance of
    every FMU) goes beside it as ``<path>.meta.json``, written before the first row."""

    def __init__(self, path: str | Path, variables: Sequence[str] | None = None, decimation: int = 1,
                 metadata: dict[str, Any] | None = None, rows_per_part: int = 100) -> None:
        super().__init__(variables, decimation)
        self.path = Path(path)
        self.format = "parquet" if self.path.suffix == ".parquet" else "csv"
        if self.path.suffix not in (".csv", ".parquet"):
            raise ValueError(f"{self.path}: results are written as .csv or .parquet")
        self.metadata = metadata or {}
        self.rows_per_part = int(rows_per_part)
        self._pending: list[np.ndarray] = []
        self._parts = 0
        self._file: Any = None
        self._csv: Any = None

    def bind(self, execution: Any) -> None:
        super().bind(execution)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = self.path.with_name(self.path.name + ".meta.json")
        meta.write_text(json.dumps({**self.metadata, "columns": ["time", *self.columns]}, indent=1, default=str))
        if self.format == "csv":
            self._file = open(self.path, "w", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow(["time", *self.columns])
            self._file.flush()
        else:
            import shutil

            if self.path.exists():
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            self.path.mkdir(parents=True)

    def _write(self, row: np.ndarray) -> None:
        if self.format == "csv":
            self._csv.writerow([repr(float(v)) for v in row])
            self._file.flush()
        else:
            self._pending.append(row)
            if len(self._pending) >= self.rows_per_part:
                self._write_part()

    def _write_part(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = np.array(self._pending)
        table = pa.table({name: data[:, i] for i, name in enumerate(["time", *self.columns])})
        tmp = self.path / f".part-{self._parts:06d}.parquet.tmp"
        pq.write_table(table, tmp)
        tmp.rename(self.path / f"part-{self._parts:06d}.parquet")  # a part appears only when complete
        self._parts += 1
        self._pending = []

    def close(self) -> None:
        if self.format == "csv" and self._file is not None:
            self._file.close()
            self._file = None
        elif self.format == "parquet" and self._pending:
            self._write_part()


def read_results(path: str | Path) -> dict[str, np.ndarray]:
    """A result written by :class:`FileWriter` (CSV file or Parquet folder), one array per column."""
    path = Path(path)
    if path.is_dir():
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = sorted(path.glob("part-*.parquet"))
        if not parts:
            return {}
        table = pa.concat_tables([pq.read_table(p) for p in parts])
        return {name: table.column(name).to_numpy() for name in table.column_names}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
    return {name: body[:, i] for i, name in enumerate(header)}
