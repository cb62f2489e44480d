"""The cell FMUs in two co-simulation importers that are not ours: OSP libcosim and ecos.

Both are C++ masters driven from Python through ctypes (``libcosimpy``, ``ecospy``); they load
the FMU's binary into this process, where the pythonfmu/pythonfmu3 binary finds the running
interpreter. US06 (600 steps of 1 s) goes in through each master's own input-setting API,
one ``current`` value per step, and the outputs read after each step must equal the numpy
twin's (``twin_reference``): reference index k is the state after the step from time[k] to
time[k+1], taken with current[k] held over it.

libcosim reads FMI 1.0 and 2.0 only; its rejection of the FMI 3.0 FMU is tested too.
ecos (through fmi4c) reads FMI 2.0 and 3.0: both are run. Each runs the in-process FMU
(pythonfmu's binary) and the out-of-process one (fmutwin's proxy, a worker per instance).

Needs: pip ``libcosimpy`` and ``ecospy``; ecospy's libecosc.so needs Debian's ``libtbb12``.
A missing importer fails these tests (no skip), so a missing install step cannot go green.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import numpy as np
import pytest

from fmi_reference import twin_reference

RTOL = 1e-9
STEP_S = 1.0
OUTPUTS = {"batteryVoltage": "voltage_V", "stateOfCharge": "soc", "batteryCurrent": "current_A"}

OSP_SYSTEM_STRUCTURE = """<?xml version="1.0" encoding="utf-8" ?>
<OspSystemStructure xmlns="http://opensimulationplatform.com/MSMI/OSPSystemStructure" version="0.1">
    <StartTime>0.0</StartTime>
    <BaseStepSize>{step}</BaseStepSize>
    <Algorithm>fixedStep</Algorithm>
    <Simulators>
        <Simulator name="cell" source="{fmu}"/>
    </Simulators>
</OspSystemStructure>
"""


def _compare(name: str, got: dict[str, np.ndarray], time_s: np.ndarray, current_A: np.ndarray) -> None:
    """Outputs at time_s[1:] against the twin; batteryCurrent pins the step alignment of the input."""
    ref = twin_reference(time_s, current_A)
    # batteryCurrent is the current applied over the step just taken: equal to current[k] only if
    # the importer delivered current[k] to the step from time[k] to time[k+1] (no off-by-one).
    np.testing.assert_array_equal(got["batteryCurrent"], current_A[:-1], err_msg=f"{name}: input misaligned")
    assert np.ptp(got["stateOfCharge"]) > 0.01, f"{name}: SOC hardly moved, the input did not reach the FMU"
    for fmi_name in ("batteryVoltage", "stateOfCharge"):
        expected = ref[OUTPUTS[fmi_name]]
        assert got[fmi_name].shape == expected.shape
        worst = float(np.max(np.abs(got[fmi_name] / expected - 1.0)))
        print(f"{name}: {fmi_name} max relative error {worst:.3e}")
        np.testing.assert_allclose(got[fmi_name], expected, rtol=RTOL, atol=0.0, err_msg=f"{name}: {fmi_name}")


# --------------------------------------------------------------------------------------------
# OSP libcosim (libcosimpy)
# --------------------------------------------------------------------------------------------


def _osp_system(tmp_path: Path, fmu: Path) -> Path:
    """An OspSystemStructure.xml next to a copy of ``fmu``, with one simulator named 'cell'."""
    shutil.copy(fmu, tmp_path / fmu.name)
    config = tmp_path / "OspSystemStructure.xml"
    config.write_text(OSP_SYSTEM_STRUCTURE.format(step=STEP_S, fmu=fmu.name))
    return config


def _quiet_libcosim() -> None:
    from libcosimpy.CosimLogging import CosimLogLevel, log_output_level

    log_output_level(CosimLogLevel.WARNING)  # its default level logs every FMI Library parse step


def _run_libcosim(how: str, fmu: Path, tmp_path: Path, current_A: np.ndarray) -> dict[str, np.ndarray]:
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimManipulator import CosimManipulator
    from libcosimpy.CosimObserver import CosimObserver
    from libcosimpy.CosimSlave import CosimLocalSlave
    from libcosimpy._internal import get_last_error_message

    _quiet_libcosim()
    slave = None
    if how == "osp_config":
        execution = CosimExecution.from_osp_config_file(str(_osp_system(tmp_path, fmu)))
        index = execution.slave_index_from_instance_name("cell")
    else:
        execution = CosimExecution.from_step_size(step_size=round(STEP_S * 1e9))  # nanoseconds
        slave = CosimLocalSlave(fmu_path=str(fmu), instance_name="cell")
        assert slave.ptr(), get_last_error_message()
        index = execution.add_local_slave(slave)
    assert index is not None and index >= 0, get_last_error_message()
    refs = {v.name.decode(): v.reference for v in execution.slave_variables(index)}
    override = CosimManipulator.create_override()
    observer = CosimObserver.create_last_value()
    assert execution.add_manipulator(override) and execution.add_observer(observer)
    names = list(OUTPUTS)
    rows = []
    try:
        for k, value in enumerate(current_A[:-1]):
            # the override manipulator writes the input at the start of the next step
            assert override.slave_real_values(index, [refs["current"]], [float(value)]), get_last_error_message()
            assert execution.step(), f"step {k}: {get_last_error_message()}"
            assert execution.status().current_time == round((k + 1) * STEP_S * 1e9)
            rows.append(observer.last_real_values(index, [refs[n] for n in names]))
    finally:
        # the execution owns the FMU instance: free it before the manipulator, observer, slave
        del execution
        del override, observer, slave
        gc.collect()
    return {n: np.array(col) for n, col in zip(names, zip(*rows))}


@pytest.fixture(params=["in-process", "process"])
def runner_fmu(request, cell_fmu, process_cell_fmu):
    """The cell FMU of one runner: in-process (pythonfmu's binary) or out of process (fmutwin's
    proxy and a worker process per instance)."""
    return (cell_fmu if request.param == "in-process" else process_cell_fmu), request.param


@pytest.mark.parametrize("how", ["osp_config", "local_slave"])
def test_libcosim_fmi2_us06_matches_twin(runner_fmu, us06_profile, tmp_path, how):
    """FMI 2.0 FMU in libcosim's fixed-step execution, built from an OspSystemStructure.xml
    or from a local slave added by hand; input through an override manipulator, outputs
    through a last-value observer after each step."""
    time_s, current_A = us06_profile
    assert len(time_s) == 601 and np.all(np.diff(time_s) == STEP_S)
    fmu, runner = runner_fmu
    got = _run_libcosim(how, fmu(2), tmp_path, current_A)
    _compare(f"libcosim ({how}, {runner})", got, time_s, current_A)


def test_libcosim_rejects_fmi3_cleanly(cell_fmu, tmp_path):
    """libcosim refuses the FMI 3.0 FMU with an 'unsupported FMI version' error, before loading
    its binary, on both ways in. (libcosimpy's CosimLocalSlave does not check the NULL that
    libcosimc returns then; adding that slave to an execution would crash the process, so the
    test checks the pointer and the error message instead.)"""
    from libcosimpy.CosimExecution import CosimExecution
    from libcosimpy.CosimSlave import CosimLocalSlave
    from libcosimpy._internal import get_last_error_message

    _quiet_libcosim()
    fmu = cell_fmu(3)
    with pytest.raises(AssertionError, match="Unsupported FMI version"):
        CosimExecution.from_osp_config_file(str(_osp_system(tmp_path, fmu)))

    slave = CosimLocalSlave(fmu_path=str(fmu), instance_name="cell")
    assert not slave.ptr()
    message = get_last_error_message()
    assert "Unsupported feature" in message and "Unsupported FMI version" in message and fmu.name in message
    del slave

    # and the rejection leaves libcosim usable: the FMI 2.0 FMU still loads afterwards
    slave = CosimLocalSlave(fmu_path=str(cell_fmu(2)), instance_name="cell")
    assert slave.ptr(), get_last_error_message()
    del slave
    gc.collect()


# --------------------------------------------------------------------------------------------
# ecos (ecospy)
# --------------------------------------------------------------------------------------------


def _run_ecos(fmu: Path, current_A: np.ndarray) -> dict[str, np.ndarray]:
    from ecospy import EcosSimulation, EcosSimulationStructure

    names = list(OUTPUTS)
    rows = []
    with EcosSimulationStructure() as structure:
        structure.add_model("cell", fmu)
        with EcosSimulation(structure=structure, step_size=STEP_S) as sim:
            sim.init()
            assert sim.get_time() == 0.0
            for k, value in enumerate(current_A[:-1]):
                sim.set_real("cell::current", float(value))
                assert sim.step() == (k + 1) * STEP_S
                rows.append([sim.get_real(f"cell::{n}") for n in names])
            sim.terminate()
    gc.collect()
    return {n: np.array(col) for n, col in zip(names, zip(*rows))}


@pytest.mark.parametrize("version", [2, 3])
def test_ecos_us06_matches_twin(runner_fmu, us06_profile, version):
    """FMU in ecos (fixed step 1 s): ``set_real('cell::current', ...)`` before each step,
    ``get_real`` of the outputs after it."""
    time_s, current_A = us06_profile
    fmu, runner = runner_fmu
    got = _run_ecos(fmu(version), current_A)
    _compare(f"ecos (FMI {version}.0, {runner})", got, time_s, current_A)
