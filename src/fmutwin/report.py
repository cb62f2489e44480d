"""Writing results: CSV tables and a standard plot of a cell run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

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


def plot_pack_cosim(path: Path, result: Mapping[str, np.ndarray], true_soc: np.ndarray, estimated_soc: np.ndarray,
                    n_modules: int, title: str = "") -> None:
    """The pack co-simulation's report figure: pack voltage and current with the BMS limits; cell
    voltage spread; true vs estimated SoC of each series element; cell, plate, coolant and
    enclosure temperatures; heat flows (positive current = discharge)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = result["time"] / 60.0
    modules = [f"module{m + 1}" for m in range(n_modules)]
    fig, ax = plt.subplots(5, 1, figsize=(10, 15), sharex=True)
    pack_voltage = np.sum([result[f"{m}.moduleVoltage"] for m in modules], axis=0)  # modules in series
    ax[0].plot(t, pack_voltage, "k", label="pack voltage [V]")
    ax[0].set_ylabel("V")
    twin = ax[0].twinx()
    twin.plot(t, result["load.current"], "C0", lw=0.8, label="current [A]")
    twin.plot(t, result["bms.dischargeCurrentLimit"], "C3--", lw=0.8, label="discharge limit")
    twin.plot(t, -result["bms.chargeCurrentLimit"], "C2--", lw=0.8, label="-charge limit")
    twin.set_ylabel("A (+ = discharge)")
    twin.legend(loc="lower right", fontsize=8)
    ax[0].legend(loc="lower left", fontsize=8)
    v_min = np.min([result[f"{m}.minCellVoltage"] for m in modules], axis=0)
    v_max = np.max([result[f"{m}.maxCellVoltage"] for m in modules], axis=0)
    ax[1].fill_between(t, v_min, v_max, color="C1", alpha=0.5, label="lowest to highest cell")
    ax[1].plot(t, v_max - v_min + v_min.min() - 0.05, "C4", lw=0.6, label="spread (offset)")
    ax[1].set_ylabel("cell voltage [V]")
    ax[1].legend(fontsize=8)
    ax[2].plot(t, true_soc, color="0.6", lw=0.4)
    ax[2].plot(t, estimated_soc, color="C0", lw=0.4, alpha=0.6)
    ax[2].plot([], [], color="0.6", label="true (mean of the element's cells)")
    ax[2].plot([], [], color="C0", label="BMS estimate (EKF)")
    ax[2].set_ylabel("element SoC")
    ax[2].legend(fontsize=8)
    ax[3].plot(t, np.max([result[f"{m}.maxCellTemperature"] for m in modules], axis=0) - 273.15, "C3",
               label="hottest cell")
    ax[3].plot(t, np.min([result[f"{m}.minCellTemperature"] for m in modules], axis=0) - 273.15, "C0",
               label="coldest cell")
    for m in range(n_modules):
        ax[3].plot(t, result[f"thermal.plateTemperature[{m + 1}]"] - 273.15, color="0.5", lw=0.5,
                   label="cold plates" if m == 0 else None)
    ax[3].plot(t, result["thermal.outletTemperature"] - 273.15, "C2", label="coolant outlet")
    ax[3].plot(t, result["thermal.enclosureTemperature"] - 273.15, "C1", label="enclosure")
    ax[3].set_ylabel("degC")
    ax[3].legend(fontsize=8, ncol=3)
    heat = np.sum([result[f"{m}.cellHeat[{c + 1}]"] for m in modules
                   for c in range(sum(1 for k in result if k.startswith(f"{m}.cellHeat[")))], axis=0)
    ax[4].plot(t, heat, "C3", lw=0.6, label="generated in the cells")
    ax[4].plot(t, result["thermal.heatToCoolant"], "C0", label="into the coolant")
    ax[4].plot(t, result["thermal.heatToAmbient"], "C1", label="enclosure to ambient")
    ax[4].set_ylabel("W")
    ax[4].set_xlabel("time [min]")
    ax[4].legend(fontsize=8)
    finish_figure(fig, ax, path, title)


def finish_figure(fig: Any, axes: Any, path: Path, title: str) -> None:
    """Grid every axis, title the figure, lay it out, write it as PNG and close it."""
    import matplotlib.pyplot as plt

    for a in axes:
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bms_log(path: Path, t: np.ndarray, current: np.ndarray, soc: np.ndarray, voltage_spread: np.ndarray,
                 result: Mapping[str, np.ndarray], name: str) -> None:
    """The offline BMS analysis figure: current with the BMS limits, each element's estimated SoC,
    the imbalance (voltage spread and SoC spread with its standard deviation), alarms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = t / 60.0
    fig, ax = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    ax[0].plot(minutes, current, "C0", lw=0.6, label="current [A] (+ = discharge)")
    ax[0].plot(minutes, result["discharge_current_limit_A"], "C3--", lw=0.8, label="discharge limit")
    ax[0].plot(minutes, -np.asarray(result["charge_current_limit_A"]), "C2--", lw=0.8, label="-charge limit")
    ax[0].set_ylabel("A")
    ax[0].legend(fontsize=8)
    ax[1].plot(minutes, soc, lw=0.5)
    ax[1].set_ylabel("estimated SoC per element")
    ax[2].plot(minutes, 1e3 * voltage_spread, "C1", lw=0.6, label="voltage spread [mV]")
    twin = ax[2].twinx()
    spread, std = np.asarray(result["soc_spread"]), np.asarray(result["soc_spread_std"])
    twin.plot(minutes, 100 * spread, "C4", label="SoC spread [%]")
    twin.fill_between(minutes, 100 * (spread - std), 100 * (spread + std), color="C4", alpha=0.2)
    twin.set_ylabel("%")
    ax[2].set_ylabel("mV")
    ax[2].legend(loc="upper left", fontsize=8)
    twin.legend(loc="upper right", fontsize=8)
    ax[3].plot(minutes, result["alarm_any"], "C3", label="any alarm (0/1)")
    ax[3].set_ylabel("alarm")
    ax[3].set_xlabel("time [min]")
    ax[3].legend(fontsize=8)
    finish_figure(fig, ax, path, f"BMS analysis ({name})")


def plot_sweep(path: Path, rows: list[dict[str, Any]], title: str = "") -> None:
    """A sweep's summary: per scenario, the hottest cell, the lowest cell voltage, the energy
    delivered and the BMS's SoC error; failed scenarios are named and left blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status") == "ok"]
    failed = [r for r in rows if r.get("status") != "ok"]
    labels = [r["id"].replace(",", "\n") for r in ok]
    panels = [("max_cell_temperature_K", "hottest cell [degC]", -273.15, 1.0),
              ("min_cell_voltage_V", "lowest cell voltage [V]", 0.0, 1.0),
              ("energy_delivered_J", "energy delivered [kWh]", 0.0, 1 / 3.6e6),
              ("soc_error_rms", "BMS SoC error, RMS [%]", 0.0, 100.0)]
    fig, ax = plt.subplots(len(panels), 1, figsize=(max(8.0, 0.6 * len(ok) + 2), 11), sharex=True)
    x = np.arange(len(ok))
    for a, (key, label, offset, scale) in zip(ax, panels):
        a.bar(x, [(r[key] + offset) * scale for r in ok], color="C0")
        a.set_ylabel(label, fontsize=8)
    ax[-1].set_xticks(x, labels, fontsize=6, rotation=90)
    if failed:
        ax[0].set_title("failed: " + "; ".join(f"{r['id']} ({r.get('error', '')[:60]})" for r in failed[:4])
                        + (f" and {len(failed) - 4} more" if len(failed) > 4 else ""), fontsize=7, color="C3")
    finish_figure(fig, ax, path, title)
