"""A parallel group of PyBaMM cells in liionpack, for test_module_liionpack.py; run in the peer
environment (``peer_environment.py``: liionpack 0.4.0, pybamm 24.11), not fmutwin's, as
``python liionpack_module_run.py REQUEST.json OUT.json``.

Request: ``{"currents": [A per 1 s step, positive = discharge], "model": "SPM" | "SPMe",
"parameter_set": "Chen2020", "capacity_scale": [one per cell], "initial_soc": s, "rc": Ohm,
"rb": Ohm}``. One series group of ``len(capacity_scale)`` cells (``lp.setup_circuit(Np, 1, Rb,
Rc, configuration="series-groups")``, ``manager="casadi"``); a cell's capacity scale is its
electrode height (``"Electrode height [m]"`` as a per-cell input: the electrode area, so the
cell is that much larger). The initial concentrations are set for ``initial_soc`` before the
height becomes an input (liionpack's ``initial_soc`` argument fails on an input height). Writes
liionpack's "Cell current [A]" and "Terminal voltage [V]" (rows: the start, then each step's end)
and the versions.
"""

from __future__ import annotations

import json
import sys

import casadi
import liionpack as lp
import numpy as np
import pybamm


def main() -> None:
    request = json.loads(open(sys.argv[1]).read())
    currents = np.asarray(request["currents"], dtype=float)
    scale = np.asarray(request["capacity_scale"], dtype=float)
    values = pybamm.ParameterValues(request["parameter_set"])
    height = values["Electrode height [m]"]
    lp.update_init_conc(values, request["initial_soc"], update=True)
    values.update({"Electrode height [m]": "[input]"})
    model_class = getattr(pybamm.lithium_ion, request["model"])

    def simulation(parameter_values: pybamm.ParameterValues) -> pybamm.Simulation:
        model = lp.add_events_to_model(model_class())
        return pybamm.Simulation(model, parameter_values=parameter_values.copy(), solver=pybamm.CasadiSolver(mode="safe"))

    t = np.arange(len(currents) + 1, dtype=float)
    experiment = pybamm.Experiment([pybamm.step.current(np.column_stack([t, np.append(currents, currents[-1])]),
                                                        period="1 second")], period="1 second")
    netlist = lp.setup_circuit(Np=len(scale), Ns=1, Rb=request["rb"], Rc=request["rc"], configuration="series-groups")
    output = lp.solve(netlist=netlist, sim_func=simulation, parameter_values=values, experiment=experiment,
                      initial_soc=None, nproc=1, manager="casadi", inputs={"Electrode height [m]": height * scale})
    json.dump({"cell_current_A": np.asarray(output["Cell current [A]"]).tolist(),
               "cell_voltage_V": np.asarray(output["Terminal voltage [V]"]).tolist(),
               "versions": {"liionpack": lp.__version__, "pybamm": pybamm.__version__, "casadi": casadi.__version__}},
              open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
