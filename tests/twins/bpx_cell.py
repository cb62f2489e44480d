"""A complete, valid BPX 1.x document (DFN, one cell) for the LG M50 (INR21700-M50) cell, generated
from PyBaMM's own ``Chen2020`` parameter set, so that BPX support can be tested offline.

Nothing is transcribed from another BPX file: every number comes from
``pybamm.ParameterValues("Chen2020")``:

* constants are copied, converted to BPX's conventions:

  - BPX gives the electrolyte *transport efficiency* (inverse MacMullin number) instead of a
    Bruggeman exponent: ``porosity ** b``;
  - BPX gives the *surface area per unit volume* of the particles instead of the active material
    volume fraction: ``a = 3 eps_am / R`` (PyBaMM's BPX reader inverts it exactly);
  - BPX electrode conductivities are already *effective*; Chen2020 uses a Bruggeman exponent 0
    for the electrode, so the value is unchanged;
  - BPX gives the 0 % / 100 % SOC stoichiometries explicitly; they are PyBaMM's electrode-SOH
    limits of Chen2020 (``get_min_max_stoichiometries``: OCV 2.5 V and 4.2 V with Chen2020's
    lithium inventory);
  - the thermal data are lumped: one density and one specific heat capacity, the
    thickness-weighted averages of Chen2020's layers (current collectors included, heat capacity
    per volume preserved);

* functions of one variable (OCPs of stoichiometry, electrolyte diffusivity and conductivity of
  concentration) are tabulated (``{"x": [...], "y": [...]}``) from PyBaMM's Chen2020 functions;
  PyBaMM interpolates BPX tables linearly;
* the exchange-current densities are BPX's fixed form ``j0 = F k sqrt(c_e/c_e0 x (1 - x))``
  with an Arrhenius factor; the rate constant ``k`` and activation energy are *measured* from
  PyBaMM's Chen2020 ``j0(c_e, c_s, c_s_max, T)`` function at the reference state and at two
  temperatures, and the generator checks that the function has BPX's form.

``chen2020_bpx()`` returns the document as a dict; ``write_chen2020_bpx(path)`` writes it as JSON.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

#: BPX version the document declares (bpx>=1: the ``State`` block exists)
BPX_VERSION = "1.1.0"

#: electrolyte concentration range of the electrolyte tables [mol.m-3]
ELECTROLYTE_TABLE_RANGE = (0.0, 4000.0)


def _value(expr: Any) -> np.ndarray:
    """A PyBaMM function result (numpy array or pybamm expression) as a float array."""
    if hasattr(expr, "evaluate"):
        expr = expr.evaluate()
    return np.asarray(expr, dtype=float)


def _table(x: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    if not np.all(np.isfinite(y)):
        raise ValueError("tabulated function is not finite")
    return {"x": [float(v) for v in x], "y": [float(v) for v in y]}


def _reaction_rate(j0: Any, c_max: float, c_e0: float, T_ref: float) -> tuple[float, float]:
    """BPX reaction rate constant [mol.m-2.s-1] and its activation energy [J.mol-1] of a PyBaMM
    exchange-current density function ``j0(c_e, c_s_surf, c_s_max, T)``.

    BPX: ``j0 = F k exp(Ea/R (1/T_ref - 1/T)) sqrt((c_e/c_e0) x (1 - x))`` with ``x = c_s/c_s_max``.
    """
    import pybamm

    F, R = pybamm.constants.F.value, pybamm.constants.R.value
    x = np.array([0.05, 0.3, 0.5, 0.8, 0.95])
    c_e = np.array([200.0, 700.0, 1000.0, 1500.0, 2500.0])
    shape = np.sqrt((c_e / c_e0) * x * (1 - x))
    k = np.array([float(_value(j0(ce, xi * c_max, c_max, T_ref))) for ce, xi in zip(c_e, x)]) / (F * shape)
    if not np.allclose(k, k[2], rtol=1e-9):
        raise ValueError(f"exchange-current density is not of BPX's form F k sqrt(c_e/c_e0 x (1-x)): k = {k}")
    T1, T2 = 273.15, 318.15
    j1 = float(_value(j0(c_e0, 0.5 * c_max, c_max, T1)))
    j2 = float(_value(j0(c_e0, 0.5 * c_max, c_max, T2)))
    Ea = R * np.log(j2 / j1) / (1 / T1 - 1 / T2)
    return float(k[2]), float(Ea)


def _constant(values: Any, name: str) -> float:
    value = values[name]
    if callable(value):
        raise ValueError(f"{name!r} is a function in this parameter set; the generator expects a constant")
    return float(value)


def chen2020_bpx(ocp_points: int = 100, electrolyte_points: int = 81, model: str = "DFN") -> dict[str, Any]:
    """The BPX document (a dict) of the LG M50 cell from PyBaMM's Chen2020 parameter set.

    ``ocp_points`` OCP table points, uniform in stoichiometry over [0, 1];
    ``electrolyte_points`` electrolyte table points over :data:`ELECTROLYTE_TABLE_RANGE`.
    """
    import pybamm

    p = pybamm.ParameterValues("Chen2020")
    c = lambda name: _constant(p, name)  # noqa: E731
    T_ref = c("Reference temperature [K]")
    c_e0 = c("Initial concentration in electrolyte [mol.m-3]")
    x_0, x_100, y_100, y_0 = (float(v) for v in pybamm.lithium_ion.get_min_max_stoichiometries(p))

    sto = np.linspace(0.0, 1.0, ocp_points)
    c_e = np.linspace(*ELECTROLYTE_TABLE_RANGE, electrolyte_points)

    def electrode(side: str) -> dict[str, Any]:
        pre = f"{side.capitalize()} electrode "
        particle = f"{side.capitalize()} particle "
        c_max = c(f"Maximum concentration in {side} electrode [mol.m-3]")
        radius = c(particle + "radius [m]")
        porosity = c(pre + "porosity")
        k, Ea_k = _reaction_rate(p[pre + "exchange-current density [A.m-2]"], c_max, c_e0, T_ref)
        if c(pre + "Bruggeman coefficient (electrode)") != 0:
            raise ValueError("the generator assumes effective electrode conductivities (Bruggeman 0)")
        return {
            "Thickness [m]": c(pre + "thickness [m]"),
            "Porosity": porosity,
            "Transport efficiency": porosity ** c(pre + "Bruggeman coefficient (electrolyte)"),
            "Conductivity [S.m-1]": c(pre + "conductivity [S.m-1]"),
            "Minimum stoichiometry": x_0 if side == "negative" else y_100,
            "Maximum stoichiometry": x_100 if side == "negative" else y_0,
            "Maximum concentration [mol.m-3]": c_max,
            "Particle radius [m]": radius,
            "Surface area per unit volume [m-1]": 3.0 * c(pre + "active material volume fraction") / radius,
            "Diffusivity [m2.s-1]": c(particle + "diffusivity [m2.s-1]"),
            "Diffusivity activation energy [J.mol-1]": 0.0,  # Chen2020: no temperature dependence
            "OCP [V]": _table(sto, _value(p[pre + "OCP [V]"](sto))),
            "Entropic change coefficient [V.K-1]": c(pre + "OCP entropic change [V.K-1]"),
            "Reaction rate constant [mol.m-2.s-1]": k,
            "Reaction rate constant activation energy [J.mol-1]": Ea_k,
        }

    # lumped thermal data: thickness-weighted over the whole stack, rho*c_p per volume preserved
    layers = ["Negative current collector ", "Negative electrode ", "Separator ", "Positive electrode ",
              "Positive current collector "]
    L = np.array([c(pre + "thickness [m]") for pre in layers])
    rho = np.array([c(pre + "density [kg.m-3]") for pre in layers])
    cp = np.array([c(pre + "specific heat capacity [J.kg-1.K-1]") for pre in layers])
    density = float(np.sum(L * rho) / np.sum(L))
    heat_capacity = float(np.sum(L * rho * cp) / np.sum(L * rho))

    doc = {
        "Header": {
            "BPX": BPX_VERSION,
            "Title": "LG M50 (INR21700-M50), generated from PyBaMM's Chen2020 parameter set",
            "Description": "Cylindrical 21700 cell, graphite-SiOx / NMC811, 5 Ah. Generated for fmutwin's tests; "
                           "OCPs and electrolyte properties tabulated from PyBaMM's Chen2020 functions.",
            "References": "Chang-Hui Chen et al 2020 J. Electrochem. Soc. 167 080534",
            "Model": model,
        },
        "Parameterisation": {
            "Cell": {
                "Electrode area [m2]": c("Electrode height [m]") * c("Electrode width [m]"),
                "External surface area [m2]": c("Cell cooling surface area [m2]"),
                "Volume [m3]": c("Cell volume [m3]"),
                "Number of electrode pairs connected in parallel to make a cell":
                    int(round(c("Number of electrodes connected in parallel to make a cell"))),
                "Lower voltage cut-off [V]": c("Lower voltage cut-off [V]"),
                "Upper voltage cut-off [V]": c("Upper voltage cut-off [V]"),
                "Nominal cell capacity [A.h]": c("Nominal cell capacity [A.h]"),
                "Reference temperature [K]": T_ref,
                "Density [kg.m-3]": density,
                "Specific heat capacity [J.K-1.kg-1]": heat_capacity,
            },
            "Electrolyte": {
                "Cation transference number": c("Cation transference number"),
                "Diffusivity [m2.s-1]": _table(c_e, _value(p["Electrolyte diffusivity [m2.s-1]"](c_e, T_ref))),
                "Diffusivity activation energy [J.mol-1]": 0.0,  # Nyman2008: no temperature dependence
                "Conductivity [S.m-1]": _table(c_e, _value(p["Electrolyte conductivity [S.m-1]"](c_e, T_ref))),
                "Conductivity activation energy [J.mol-1]": 0.0,
            },
            "Negative electrode": electrode("negative"),
            "Positive electrode": electrode("positive"),
            "Separator": {
                "Thickness [m]": c("Separator thickness [m]"),
                "Porosity": c("Separator porosity"),
                "Transport efficiency": c("Separator porosity") ** c("Separator Bruggeman coefficient (electrolyte)"),
            },
            # PyBaMM's SOC-defining OCV limits (PyBaMM otherwise falls back to the cut-offs, with a warning)
            "User-defined": {
                "Open-circuit voltage at 0% SOC [V]": c("Open-circuit voltage at 0% SOC [V]"),
                "Open-circuit voltage at 100% SOC [V]": c("Open-circuit voltage at 100% SOC [V]"),
            },
        },
        "State": {
            "Initial conditions": {
                "Initial state-of-charge": 1.0,
                "Initial temperature [K]": c("Initial temperature [K]"),
                "Initial electrolyte concentration [mol.m-3]": c_e0,
            },
            "Thermal environment": {
                "Ambient temperature [K]": c("Ambient temperature [K]"),
                "Heat transfer coefficient [W.m-2.K-1]": c("Total heat transfer coefficient [W.m-2.K-1]"),
            },
        },
    }
    return doc


def broken(doc: dict[str, Any], path: tuple[str, ...], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    """A deep copy of ``doc`` with the entry at ``path`` (keys) set to ``value`` or deleted."""
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def write_bpx(doc: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(doc, indent=1))
    return path


def write_chen2020_bpx(path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`chen2020_bpx` as a JSON file at ``path``; returns the path."""
    return write_bpx(chen2020_bpx(**kwargs), path)
