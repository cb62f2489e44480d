"""Writing results: CSV tables and a standard plot of a cell run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping

import numpy as np


def write_csv(path: Path, result: Mapping[str, np.ndarray]) -> None:
    """One column per variable (names carry their units), one row per communication point."""
    names = list(result)
    with Path(path).open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        writer.writerows(zip(*(np.asarray(result[n]).tolist() for n in names)))


def plot_run(path: Path, result: Mapping[str, np.ndarray], title: str = "") -> None:
    """Current, voltage, SOC and temperature against time, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result["time_s"]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(9, 9))
    panels = [("current_A", "current [A]\n(+ = discharge)"), ("voltage_V", "voltage [V]"),
              ("soc", "SOC [1]"), ("temperature_K", "temperature [degC]")]
    for ax, (key, label) in zip(axes, panels):
        values = result[key] - (273.15 if key == "temperature_K" else 0.0)
        ax.plot(t, values, lw=0.8)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if "ocv_V" in result:
        axes[1].plot(t, result["ocv_V"], lw=0.8, ls="--", label="OCV")
        axes[1].legend(loc="best")
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
