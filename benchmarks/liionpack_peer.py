"""The liionpack side of bench_pack.py, run in the peer environment (liionpack 0.4.0, pybamm 24.11,
casadi 3.6.7, pandas < 3; not fmutwin's), as ``python liionpack_peer.py REQUEST.json``; prints one
JSON object with the results.

Request: ``{"profile": FILE (one pack current per line [A], positive = discharge, held 1 s each),
"steps": N, "np": Np, "ns": Ns, "models": ["Thevenin", "SPM", "SPMe"], "spm_current_scale": s,
"nproc": 2}``. For every model: ``lp.setup_circuit(Np, Ns, Rb=1e-4, Rc=1e-2,
configuration="series-groups")``, ``lp.solve(..., manager="casadi")`` over the first N currents
(the electrochemical models, on PyBaMM's 5 Ah Chen2020 cell, at the current times ``s`` so the
C-rate is that of the 100 Ah ECM cell), timed with ``time.perf_counter`` around ``lp.solve``. Then
the one-step lag, on 4 identical Thevenin cells in parallel with negligible interconnects
(Rb = Rc = 1e-6): each cell's current and voltage against a standalone PyBaMM Thevenin cell at
I / 4 with the same 1 s steps, unshifted and shifted by one step.
"""

from __future__ import annotations

import json
import sys
import time

import liionpack as lp
import numpy as np
import pybamm


def thevenin_simulation(parameter_values: pybamm.ParameterValues) -> pybamm.Simulation:
    """PyBaMM's Thevenin ECM with the two variables liionpack reads."""
    model = pybamm.equivalent_circuit.Thevenin()
    model.variables["Terminal voltage [V]"] = model.variables["Voltage [V]"]
    model.variables["Surface open-circuit voltage [V]"] = model.variables["Open-circuit voltage [V]"]
    return pybamm.Simulation(model, parameter_values=parameter_values.copy(),
                             solver=pybamm.CasadiSolver(mode="safe"))


def spme_simulation(parameter_values: pybamm.ParameterValues) -> pybamm.Simulation:
    """liionpack's basic simulation with SPMe in place of SPM."""
    model = lp.add_events_to_model(pybamm.lithium_ion.SPMe())
    return pybamm.Simulation(model, parameter_values=parameter_values.copy(), solver=pybamm.CasadiSolver(mode="safe"))


MODELS = {
    "Thevenin": (thevenin_simulation, "ECM_Example", None),
    "SPM": (lp.basic_simulation, "Chen2020", 0.5),
    "SPMe": (spme_simulation, "Chen2020", 0.5),
}


def experiment(currents: np.ndarray) -> pybamm.Experiment:
    t = np.arange(len(currents) + 1, dtype=float)
    return pybamm.Experiment([pybamm.step.current(np.column_stack([t, np.append(currents, currents[-1])]),
                                                  period="1 second")], period="1 second")


def pack_run(model: str, currents: np.ndarray, n_parallel: int, n_series: int, nproc: int,
             rb: float = 1e-4, rc: float = 1e-2) -> tuple[dict, float]:
    sim_func, parameter_set, initial_soc = MODELS[model]
    netlist = lp.setup_circuit(Np=n_parallel, Ns=n_series, Rb=rb, Rc=rc, configuration="series-groups")
    parameter_values = pybamm.ParameterValues(parameter_set)
    t0 = time.perf_counter()
    output = lp.solve(netlist=netlist, sim_func=sim_func, parameter_values=parameter_values,
                      experiment=experiment(currents), initial_soc=initial_soc, nproc=nproc, manager="casadi")
    return output, time.perf_counter() - t0


def lag(currents: np.ndarray, nproc: int) -> dict:
    """4 identical Thevenin cells in parallel vs one standalone cell at I / 4."""
    output, _ = pack_run("Thevenin", currents, 4, 1, nproc, rb=1e-6, rc=1e-6)
    cell_i = np.asarray(output["Cell current [A]"])
    cell_v = np.asarray(output["Terminal voltage [V]"])
    # a standalone cell stepped with the same held currents, 1 s at a time
    values = pybamm.ParameterValues("ECM_Example")
    values["Current function [A]"] = "[input]"
    sim = thevenin_simulation(values)
    voltages = []
    for i in currents:
        sol = sim.step(1.0, inputs={"Current function [A]": float(i) / 4.0}, save=False)
        voltages.append(float(sol["Voltage [V]"].entries[-1]))
    ref = np.array(voltages)
    n = min(len(ref), cell_v.shape[0])
    v = cell_v[:n]
    unshifted = float(np.sqrt(np.mean((v - ref[:n, None]) ** 2)))
    shifted = float(np.sqrt(np.mean((v[1:] - ref[:n - 1, None]) ** 2)))
    even = np.asarray(currents[:n])[:, None] / 4.0
    return {"rows": int(n), "voltage_rms_unshifted_V": unshifted, "voltage_rms_shifted_V": shifted,
            "split_max_deviation_A": float(np.max(np.abs(cell_i[:n] - even))),
            "split_max_deviation_shifted_A": float(np.max(np.abs(cell_i[1:n] - even[:n - 1]))),
            "current_peak_A": float(np.max(np.abs(currents[:n])))}


def main() -> None:
    request = json.loads(open(sys.argv[1]).read())
    currents = np.loadtxt(request["profile"], ndmin=1)[: request["steps"]]
    result: dict = {"versions": {"liionpack": lp.__version__, "pybamm": pybamm.__version__,
                                 "casadi": __import__("casadi").__version__,
                                 "pandas": __import__("pandas").__version__, "numpy": np.__version__},
                    "models": {}}
    for model in request["models"]:
        scale = 1.0 if model == "Thevenin" else request["spm_current_scale"]
        try:
            output, wall = pack_run(model, currents * scale, request["np"], request["ns"], request["nproc"])
            cells = request["np"] * request["ns"]
            result["models"][model] = {"wall_s": wall, "cell_steps": cells * len(currents),
                                       "ms_per_cell_step": wall / (cells * len(currents)) * 1e3,
                                       "pack_voltage_V": [float(np.asarray(output["Pack terminal voltage [V]"])[k])
                                                          for k in (0, -1)]}
        except Exception as exc:  # noqa: BLE001 - report the peer's failure, keep the other rows
            result["models"][model] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        result["lag"] = lag(currents, request["nproc"])
    except Exception as exc:  # noqa: BLE001
        result["lag"] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
