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


def plot_pack_run(path: Path, result: Mapping[str, np.ndarray], title: str = "") -> None:
    """A pack run (``PackTwin.run``): power, current and voltage; the cells' SOC and temperature
    ranges; the plates, coolant outlet and enclosure; the heat to the coolant. Saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result["time_s"]
    c = 273.15
    fig, axes = plt.subplots(5, 1, sharex=True, figsize=(10, 12))
    axes[0].plot(t, result["pack_power_W"] / 1e3, lw=0.7)
    axes[0].set_ylabel("pack power [kW]\n(+ = discharge)")
    axes[1].plot(t, result["pack_current_A"], lw=0.7, color="C1")
    axes[1].set_ylabel("pack current [A]")
    ax_v = axes[1].twinx()
    ax_v.plot(t, result["pack_voltage_V"], lw=0.7, color="C2")
    ax_v.set_ylabel("pack voltage [V]", color="C2")
    axes[2].fill_between(t, result["min_cell_soc"], result["max_cell_soc"], alpha=0.5, label="cell SOC, min..max")
    axes[2].set_ylabel("SOC [1]")
    axes[2].legend(loc="best")
    axes[3].fill_between(t, result["min_cell_temperature_K"] - c, result["max_cell_temperature_K"] - c, alpha=0.4,
                         label="cells, min..max")
    axes[3].plot(t, result["plate_temperature_K"] - c, lw=0.6)
    axes[3].plot(t, result["outlet_temperature_K"] - c, lw=1.0, ls="--", color="k", label="coolant outlet")
    axes[3].plot(t, result["enclosure_temperature_K"] - c, lw=1.0, ls=":", color="k", label="enclosure")
    axes[3].set_ylabel("temperature [degC]\n(thin: module plates)")
    axes[3].legend(loc="best", fontsize=8)
    axes[4].plot(t, result["heat_to_coolant_W"], lw=0.7, label="to coolant")
    axes[4].plot(t, result["cell_heat_W"].sum(axis=1), lw=0.7, label="generated in the cells and interconnects")
    axes[4].set_ylabel("heat [W]")
    axes[4].legend(loc="best", fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
