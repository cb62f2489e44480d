"""Build a :class:`CellParameters` from PyBaMM's BSD-licensed ECM example data.

PyBaMM ships ``pybamm/input/parameters/ecm/data/*.csv`` (OCV(SoC), R0/R1/C1 over temperature,
current and SoC, dUdT over OCV and temperature; licence in ../shared/data/LICENSE-PyBaMM-BSD3.txt).
fmutwin's default parameter set is this data reduced to fmutwin's tables: R0, R1 and
tau1 = R1 C1 over (SOC, T) taken at +100 A for discharge and -100 A for charge, and dOCV/dT
re-tabulated over (SOC, T) through the OCV curve. ``tests/params`` checks that the JSON shipped
with fmutwin is exactly what this function produces.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fmutwin.params.cell import CellParameters

DISCHARGE_CURRENT_A = 100.0
CHARGE_CURRENT_A = -100.0
KELVIN = 273.15


def pybamm_ecm_data_dir() -> Path:
    """Folder of PyBaMM's ECM example CSV files (needs pybamm installed)."""
    import pybamm.input.parameters.ecm as ecm

    return Path(ecm.__file__).parent / "data"


def _read(path: Path) -> np.ndarray:
    with path.open() as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    body = [r for r in rows if not r[0].strip().lstrip("-").replace(".", "").isalpha()]
    return np.array([[float(v) for v in r] for r in body if _is_number(r[0])])


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _table_t_i_soc(data: np.ndarray, current_A: float) -> tuple[list[float], list[float], np.ndarray]:
    """Slice a (T [degC], I [A], SoC, value) table at one current; rows over SoC, columns over T."""
    sel = data[np.isclose(data[:, 1], current_A)]
    temps = np.unique(sel[:, 0])
    socs = np.unique(np.round(sel[:, 2], 12))
    grid = np.full((len(socs), len(temps)), np.nan)
    for t_c, _, soc, value in sel:
        grid[np.searchsorted(socs, round(soc, 12)), np.searchsorted(temps, t_c)] = value
    if np.isnan(grid).any():
        raise ValueError(f"PyBaMM ECM data is not a full grid at {current_A} A")
    return socs.tolist(), (temps + KELVIN).tolist(), grid


SOURCE_URL = "https://github.com/pybamm-team/PyBaMM/tree/develop/src/pybamm/input/parameters/ecm/data"
DATA_FILES = ("ecm_example_ocv.csv", "ecm_example_r0.csv", "ecm_example_r1.csv", "ecm_example_c1.csv",
              "ecm_example_dudt.csv")


def _origin(d: Path) -> dict:
    """The provenance of the converted set: where the data is from, its licence, and the hash of
    each data file (so a changed PyBaMM data file is seen as a different source)."""
    from fmutwin.provenance import file_sha256

    return {"origin": {"kind": "converted from published data", "name": "PyBaMM ECM example parameter set",
                       "url": SOURCE_URL, "licence": "BSD-3-Clause (PyBaMM; text in LICENSE-PyBaMM-BSD3.txt)",
                       "converter": f"{__name__}.pybamm_ecm_example",
                       "data_files": [{"file": name, "sha256": file_sha256(d / name)} for name in DATA_FILES]}}


def pybamm_ecm_example(data_dir: Path | None = None) -> CellParameters:
    """fmutwin's default cell: PyBaMM's ECM example, 100 Ah, one RC pair, lumped thermal mass,
    with a provenance record naming the source, its licence and the data files' hashes."""
    from fmutwin.provenance import attach

    d = data_dir or pybamm_ecm_data_dir()
    ocv = _read(d / "ecm_example_ocv.csv")
    r0 = _read(d / "ecm_example_r0.csv")
    r1 = _read(d / "ecm_example_r1.csv")
    c1 = _read(d / "ecm_example_c1.csv")
    dudt = _read(d / "ecm_example_dudt.csv")

    def soc_t(data: np.ndarray, current: float) -> dict:
        soc, temp, values = _table_t_i_soc(data, current)
        return {"soc": soc, "temperature_K": temp, "values": values.tolist()}

    def tau(current: float) -> dict:
        soc, temp, r = _table_t_i_soc(r1, current)
        _, _, c = _table_t_i_soc(c1, current)
        return {"soc": soc, "temperature_K": temp, "values": (r * c).tolist()}

    # dUdT is tabulated over (OCV, T); re-tabulate it over (SOC, T) through the OCV curve.
    ocv_soc, ocv_v = ocv[:, 0], ocv[:, 1]
    soc_grid = np.round(np.linspace(0.0, 1.0, 21), 12)
    du_ocv = np.unique(dudt[:, 0])
    du_t = np.unique(dudt[:, 1])
    du_vals = np.full((len(du_ocv), len(du_t)), np.nan)
    for v, t_c, value in dudt:
        du_vals[np.searchsorted(du_ocv, v), np.searchsorted(du_t, t_c)] = value
    ocv_at = np.interp(soc_grid, ocv_soc, ocv_v)
    entropic = np.array([[np.interp(v, du_ocv, du_vals[:, j]) for j in range(len(du_t))] for v in ocv_at])

    return attach(CellParameters.from_dict({
        "name": "pybamm_ecm_example",
        "source": ("PyBaMM ECM example parameter set (pybamm/input/parameters/ecm, BSD-3-Clause, "
                   "see LICENSE-PyBaMM-BSD3.txt): demonstration values, not a particular cell. "
                   "R0, R1 and tau1 = R1*C1 sliced at +100 A (discharge) and -100 A (charge); "
                   "dOCV/dT re-tabulated over SOC through the OCV curve; converted by "
                   "fmutwin.params.pybamm_ecm.pybamm_ecm_example."),
        "nominal_capacity_As": 100.0 * 3600.0,
        "ocv_V": {"soc": np.round(ocv_soc, 12).tolist(), "values": ocv_v.tolist()},
        "entropic_coefficient_V_per_K": {"soc": soc_grid.tolist(), "temperature_K": (du_t + KELVIN).tolist(),
                                         "values": entropic.tolist()},
        "r0_ohm": soc_t(r0, DISCHARGE_CURRENT_A),
        "r0_charge_ohm": soc_t(r0, CHARGE_CURRENT_A),
        "rc_branches": [{
            "resistance_ohm": soc_t(r1, DISCHARGE_CURRENT_A),
            "time_constant_s": tau(DISCHARGE_CURRENT_A),
            "resistance_charge_ohm": soc_t(r1, CHARGE_CURRENT_A),
            "time_constant_charge_s": tau(CHARGE_CURRENT_A),
        }],
        "thermal": {"model": "lumped", "mass_J_per_K": 1000.0, "heat_transfer_W_per_K": 10.0},
        "initial": {"soc": 0.5, "temperature_K": 298.15},
    }, origin="PyBaMM ECM example"), _origin(d))
