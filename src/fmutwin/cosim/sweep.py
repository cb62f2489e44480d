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
  others go on. A local worker process that dies breaks its pool: the unfinished scenarios go to
  a fresh pool, each at most twice before it is a failed row. Ctrl-C stops at once (the rows
  written stay).
- The settings the rows depend on besides the scenario (stop time, FMU stamps) are kept in
  ``_sweep.json``; a folder of other settings is refused rather than mixed.
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

from fmutwin.atomic import atomic_write

#: the file in a sweep's folder that holds the settings its rows were computed with
MANIFEST = "_sweep.json"
#: how often a scenario is given to a fresh worker after its worker died, before it is a failed row
ATTEMPTS = 2


def run_sweep(scenarios: dict[str, dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]],
              folder: str | Path, scheduler: Any = None, workers: int = 1, progress: bool = True,
              retry_failed: bool = False, settings: dict[str, Any] | None = None) -> list[str]:
    """Run every scenario (by id) not already in ``folder`` (``retry_failed``: also those whose
    row says failed); the ids run now (see the module docstring). ``settings`` (JSON values: what
    the rows depend on besides the scenario, such as the stop time and the FMUs' stamps) are kept
    in the folder; a folder made with other settings is refused, so old rows are never mixed in."""
    import json
    import multiprocessing

    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    settings = json.loads(json.dumps(settings or {}))
    if manifest.is_file() and json.loads(manifest.read_text()) != settings:
        raise ValueError(f"{folder} holds rows of a sweep with other settings ({manifest}); give another output "
                         "folder, or remove it to start again")
    manifest.write_text(json.dumps(settings, indent=1))
    for bad in [k for k in scenarios if not _safe_id(k)]:
        raise ValueError(f"scenario id {bad!r}: use letters, digits, '-', '_', '=', ',' and '.' only")
    done = {p.stem for p in folder.glob("*.parquet")
            if not (retry_failed and pq.read_table(p, columns=["status"])["status"][0].as_py() != "ok")}
    todo = {k: v for k, v in scenarios.items() if k not in done}
    bar = _bar(len(scenarios), len(scenarios) - len(todo), progress)
    try:
        if scheduler is None:
            _run_pool(todo, run_one, folder, workers, bar, multiprocessing.get_context("spawn"))
        else:
            _run_dask(todo, run_one, folder, scheduler, bar)
    finally:
        bar.close()
    return list(todo)


def _run_pool(todo: dict[str, dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]], folder: Path,
              workers: int, bar: Any, context: Any) -> None:
    """On local processes; a worker that dies breaks its pool, so the scenarios that had not
    finished go to a fresh pool (each at most :data:`ATTEMPTS` times, then a failed row)."""
    from concurrent.futures.process import BrokenProcessPool

    attempts = dict.fromkeys(todo, 0)
    pending = dict(todo)
    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        broken: list[str] = []
        try:
            futures = {pool.submit(_guarded, run_one, k, v): k for k, v in pending.items()}
            for fut in as_completed(futures):
                key = futures[fut]
                try:
                    row = fut.result()
                except BrokenProcessPool as exc:
                    attempts[key] += 1
                    if attempts[key] < ATTEMPTS:
                        broken.append(key)
                        continue
                    row = _failed(key, pending[key], f"worker died: {exc}")
                _write(folder, row)
                bar.update(1)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C: stop now, the rows written stay
            raise
        pool.shutdown(wait=True)
        pending = {k: pending[k] for k in broken}


def _run_dask(todo: dict[str, dict[str, Any]], run_one: Callable[[dict[str, Any]], dict[str, Any]], folder: Path,
              scheduler: Any, bar: Any) -> None:
    """On a Dask cluster (its scheduler reschedules the work of a lost worker)."""
    from distributed import Client, as_completed as dask_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {client.submit(_guarded, run_one, k, v, key=f"fmutwin-sweep-{k}-{time.time_ns()}", pure=False): k
                   for k, v in todo.items()}
        try:
            for fut in dask_completed(list(futures)):
                key = futures[fut]
                try:
                    row = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker lost too often, a killed task
                    row = _failed(key, todo[key], f"worker failed: {type(exc).__name__}: {exc}")
                _write(folder, row)
                bar.update(1)
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        if client is not scheduler:
            client.close()


def _failed(key: str, scenario: dict[str, Any], error: str) -> dict[str, Any]:
    return {"id": key, **scenario, "status": "failed", "error": error, "wall_s": float("nan")}


def _guarded(run_one: Callable[[dict[str, Any]], dict[str, Any]], key: str, scenario: dict[str, Any]) -> dict[str, Any]:
    """``run_one``'s row, or a failed row with the error; always the scenario's values and times."""
    start = time.perf_counter()
    try:
        row = {**run_one(scenario), "status": "ok", "error": ""}
    except Exception as exc:  # noqa: BLE001 - a failed scenario is a row, the sweep goes on
        row = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=5)}
    return {"id": key, **scenario, **row, "wall_s": time.perf_counter() - start}


def _write(folder: Path, row: dict[str, Any]) -> None:
    """One row as ``<id>.parquet``, written to a hidden name and renamed: complete or absent."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with atomic_write(folder / f"{row['id']}.parquet") as partial:
        pq.write_table(pa.Table.from_pylist([row]), partial)


def read_table(folder: str | Path, ids: Any = None) -> Any:
    """The sweep's rows so far as one pyarrow Table (columns missing from a failed row are null);
    ``ids``: only these scenarios' rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(p for p in Path(folder).glob("*.parquet") if ids is None or p.stem in ids)
    if not parts:
        raise FileNotFoundError(f"{folder}: no scenario results")
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")


def _safe_id(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "-_=,." for c in key) and not key.startswith(".")


def _bar(total: int, initial: int, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="scenarios", unit="scenario", disable=not progress)
