"""Running many independent co-simulation scenarios: a local process pool or Dask distributed,
one result row per scenario written as it completes. Knows no batteries: a scenario is a dict of
values, ``run_one(scenario) -> dict`` (a picklable top-level function) computes its row.

- Rows are written incrementally, one Parquet file per scenario (``<folder>/<id>.parquet``,
  written to a temporary name and renamed, so a file is complete or absent): the folder is a
  Parquet dataset that pyarrow, pandas, Polars or DuckDB read as one table
  (:func:`read_table`).
- Resume: a scenario whose file exists is not run again (an interrupted sweep, run again, goes
  on where it stopped); ``retry_failed`` runs the failed ones again.
- A scenario that raises is written as a row with ``status = "failed"`` and its ``error``; the
  others go on. A worker process that dies fails the scenarios it held, likewise.
- Engines: ``scheduler=None`` runs on a local process pool of ``workers`` processes
  (``concurrent.futures``); a Dask scheduler address (``tcp://host:8786``) or a
  ``distributed.Client`` runs on that cluster (Dask's own scheduling, retries of lost workers
  included). Each worker process keeps its own state between scenarios (the caller's
  ``run_one`` can build or extract its FMUs once per process).
- Progress: a tqdm bar over the scenarios.
"""

from __future__ import annotations

import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

#: the columns every row has, whatever ``run_one`` returns
STATUS_COLUMNS = ("id", "status", "error", "wall_s")


def run_sweep(scenarios: dict[str, dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]],
              folder: str | Path, scheduler: Any = None, workers: int = 1, progress: bool = True,
              retry_failed: bool = False) -> list[str]:
    """Run every scenario (by id) not already in ``folder`` (``retry_failed``: also those whose
    row says failed); the ids run now (see the module docstring)."""
    import multiprocessing

    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    done = {p.stem for p in folder.glob("*.parquet")
            if not (retry_failed and pq.read_table(p, columns=["status"])["status"][0].as_py() != "ok")}
    todo = {k: v for k, v in scenarios.items() if k not in done}
    for bad in [k for k in todo if not _safe_id(k)]:
        raise ValueError(f"scenario id {bad!r}: use letters, digits, '-', '_', '=', ',' and '.' only")
    bar = _bar(len(scenarios), len(scenarios) - len(todo), progress)
    if scheduler is None:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_guarded, run_one, k, v): k for k, v in todo.items()}
            for fut in as_completed(futures):
                _write(folder, _outcome(fut, futures[fut], todo[futures[fut]]))
                bar.update(1)
    else:
        from distributed import Client, as_completed as dask_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = {client.submit(_guarded, run_one, k, v, key=f"fmutwin-sweep-{k}-{time.time_ns()}", pure=False): k
                       for k, v in todo.items()}
            for fut in dask_completed(list(futures)):
                _write(folder, _outcome(fut, futures[fut], todo[futures[fut]]))
                bar.update(1)
        finally:
            if client is not scheduler:
                client.close()
    bar.close()
    return list(todo)


def _guarded(run_one: Callable[[dict[str, Any]], dict[str, Any]], key: str, scenario: dict[str, Any]) -> dict:
    """``run_one``'s row, or a failed row with the error; always the scenario's values and times."""
    start = time.perf_counter()
    try:
        row = {**run_one(scenario), "status": "ok", "error": ""}
    except Exception as exc:  # noqa: BLE001 - a failed scenario is a row, the sweep goes on
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=5)}
    return {"id": key, **scenario, **row, "wall_s": time.perf_counter() - start}


def _outcome(future: Any, key: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """The future's row, or a failed row when its worker itself failed (killed, crashed)."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - e.g. BrokenProcessPool, a lost Dask worker
        return {"id": key, **scenario, "status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}",
                "wall_s": float("nan")}


def _write(folder: Path, row: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = folder / f".{row['id']}.parquet.partial"
    pq.write_table(pa.Table.from_pylist([row]), part)
    part.replace(folder / f"{row['id']}.parquet")


def read_table(folder: str | Path) -> Any:
    """The sweep's rows so far as one pyarrow Table (columns missing from a failed row are null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(Path(folder).glob("*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{folder}: no scenario results")
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")


def _safe_id(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "-_=,." for c in key) and not key.startswith(".")


def _bar(total: int, initial: int, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="scenarios", unit="scenario", disable=not progress)
