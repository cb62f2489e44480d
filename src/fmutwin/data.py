"""Reference data (drive cycles, measured discharges) read from the shared data folder.

The folder is ``../shared/data`` beside the project root, or the path in ``FMUTWIN_DATA``.
Files use positive current = discharge (stated in their README); lines starting with ``#`` are
comments.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def data_dir() -> Path:
    """The shared data folder; raises FileNotFoundError naming where it looked."""
    env = os.environ.get("FMUTWIN_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [parent / "shared" / "data" for parent in here.parents]
    candidates += [Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if (c / "drive_cycles").is_dir():
            return c
    raise FileNotFoundError("shared data folder not found; set FMUTWIN_DATA (looked in: "
                            + ", ".join(str(c) for c in candidates) + ")")


def load_csv(relative: str) -> np.ndarray:
    """A numeric CSV of the data folder as a 2-D array (comment lines skipped)."""
    return np.loadtxt(data_dir() / relative, delimiter=",", comments="#", ndmin=2)


def drive_cycle(name: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(time [s], current [A], positive = discharge) of ``US06`` or ``UDDS``, current times ``scale``.

    WLTC is a power profile: use :func:`drive_cycle_power`.
    """
    if name.upper() == "WLTC":
        raise ValueError("WLTC is tabulated as power [kW]; use drive_cycle_power('WLTC')")
    data = load_csv(f"drive_cycles/{name.upper()}.csv")
    return data[:, 0], data[:, 1] * scale


#: the shared drive cycles that are a battery power demand (US06 and UDDS are one cell's current)
POWER_CYCLES = ("WLTC",)


def drive_cycle_power(name: str = "WLTC") -> tuple[np.ndarray, np.ndarray]:
    """(time [s], power [W], positive = discharge) of a power-demand cycle: a name of
    :data:`POWER_CYCLES`, or a CSV file of time [s], power [kW] (``#`` lines skipped)."""
    if name.lower().endswith(".csv"):
        data = np.loadtxt(name, delimiter=",", comments="#", ndmin=2)
    elif name.upper() in POWER_CYCLES:
        data = load_csv(f"drive_cycles/{name.upper()}.csv")
    else:
        raise ValueError(f"{name!r} is not a power-demand cycle: the shared power cycles are "
                         f"{', '.join(POWER_CYCLES)} (US06 and UDDS are one cell's current), or give a CSV file of "
                         "time [s], power [kW]")
    if data.shape[1] < 2 or len(data) < 2 or not np.all(np.isfinite(data[:, :2])) or np.any(np.diff(data[:, 0]) <= 0):
        raise ValueError(f"{name}: a power cycle needs two columns, time [s] increasing and power [kW], finite")
    return data[:, 0], data[:, 1] * 1e3


def power_per_second(name: str = "WLTC") -> tuple[np.ndarray, np.ndarray]:
    """(time [s] at whole seconds, the mean power [W] over each second, positive = discharge) of
    a power-demand cycle tabulated finer than 1 s: ``power[k]`` is held over ``[t_k, t_k+1]``."""
    t, power = drive_cycle_power(name)
    seconds = np.arange(0.0, np.floor(t[-1]) + 1.0)
    edges = np.searchsorted(t, seconds)
    return seconds, np.add.reduceat(power[:edges[-1]], edges[:-1]) / np.diff(edges)
