"""The master's smaller parts on real FMUs (the native PowerLoad and PackThermal FMUs): step
multiples, decimation, the last-value observer, conditioned events, and the run's own checks."""

from __future__ import annotations

import numpy as np
import pytest

from fmutwin.cosim import (CosimError, Event, Execution, FileWriter, InputSource, Iterated, LastValue, Override,
                           System, read_results)


def _load(pack_fmus) -> System:
    s = System("load")
    s.add("load", pack_fmus["load"])
    return s


def _demand(stop: float = 20.0):
    t = np.arange(0.0, stop)
    return InputSource("load.powerDemand", t, 2000.0 * t)  # a ramp to 38 kW, positive = discharge


def test_a_conditioned_event_clamps_the_load_from_the_next_step(pack_fmus):
    clamp = Event(inputs={"load.dischargeCurrentLimit": 50.0}, when=("load.current", ">", 50.0), name="clamp")
    ex = Execution(_load(pack_fmus), manipulators=[Override("load.moduleVoltage", 50.0), _demand(), clamp])
    r = ex.run(stop_s=20.0, step_s=1.0)
    demanded = 2000.0 * np.arange(0.0, 20.0) / 400.0  # W / (8 x 50 V)
    fired = int(np.argmax(demanded > 50.0))  # the first step whose current exceeds 50 A
    assert clamp.fired_at == fired + 1  # seen at the end of that step
    assert np.allclose(r["load.current"][1:fired + 2], demanded[:fired + 1], rtol=1e-12)
    assert np.all(r["load.current"][fired + 2:] == 50.0)
    assert np.allclose(r["load.demandedCurrent"][1:], demanded, rtol=1e-12)


def test_step_multiple_holds_outputs_and_matches_the_longer_step(pack_fmus):
    def thermal(multiple: int) -> System:
        s = System("thermal")
        s.add("thermal", pack_fmus["thermal"], step_multiple=multiple)
        return s

    heat = [Override("thermal.plateHeat", 300.0), Override("thermal.enclosureHeat", 20.0)]
    every_other = Execution(thermal(2), manipulators=heat).run(stop_s=21.0, step_s=1.0)
    long_steps = Execution(thermal(1), manipulators=heat).run(stop_s=22.0, step_s=2.0)
    t_plate = every_other["thermal.plateTemperature[1]"]
    assert np.array_equal(t_plate[2::2][:10], long_steps["thermal.plateTemperature[1]"][1:11])  # same 2 s steps
    # stepped at t = 0, 2, .. over 2 s: its end-of-step outputs are read at once and held over the
    # macro step in which it does not step
    assert np.array_equal(t_plate[1:20:2], t_plate[2:21:2])
    assert every_other["time"][-1] == 21.0  # the last step shortened to the stop time


def test_decimation_and_the_last_value(pack_fmus, tmp_path):
    last = LastValue(["load.current"])
    writer = FileWriter(tmp_path / "every_third.csv", ["load.current"], decimation=3)
    r = Execution(_load(pack_fmus), manipulators=[Override("load.moduleVoltage", 50.0), _demand()],
                  observers=[last, writer]).run(stop_s=10.0, step_s=1.0)
    kept = read_results(tmp_path / "every_third.csv")
    assert np.array_equal(kept["time"], [0.0, 3.0, 6.0, 9.0])
    assert np.array_equal(kept["load.current"], r["load.current"][::3])
    assert last.values == {"time": 10.0, "load.current": r["load.current"][-1]}


def test_the_run_refuses_what_it_cannot_do(pack_fmus):
    with pytest.raises(ValueError, match="stop time 10.5 s is not a whole number of 1 s steps"):
        Execution(_load(pack_fmus)).run(stop_s=10.5, step_s=1.0)
    with pytest.raises(CosimError, match="no component 'modul1' in the system"):
        Execution(_load(pack_fmus), algorithm=Iterated(group=["modul1"])).run(stop_s=2.0, step_s=1.0)
    with pytest.raises(ValueError, match="override of load.powerDemand: 'much' is not a number"):
        Override("load.powerDemand", "much")
    with pytest.raises(CosimError, match="load.moduleVoltage: 3 values for 8 elements"):
        Execution(_load(pack_fmus), manipulators=[Override("load.moduleVoltage", [1.0, 2.0, 3.0])]).run(2.0, 1.0)
