"""The native electrochemical cell file: validation naming the field, run-time parameter names,
units and ranges, and the units PyBaMM writes as FMI unit definitions."""

from __future__ import annotations

import pytest

from fmutwin.fmi.units import si_exponents
from fmutwin.params.base import ParameterError
from fmutwin.params.cell_echem import EchemCellParameters, RunTimeParameter
from fmutwin.params.defaults import default_cell_echem_file
from fmutwin.registry import load_parameter_file


def test_the_shipped_file_loads_as_an_electrochemical_cell():
    import json

    params = load_parameter_file(json.loads(default_cell_echem_file().read_text()), "shipped")
    assert isinstance(params, EchemCellParameters) and params.model == "SPMe" and params.scheme == "radau5"


@pytest.mark.parametrize("field, value, named", [
    ("model", "DFN", "model"), ("scheme", "rk4", "scheme"), ("substeps", 0, "substeps"),
    ("initial_soc", 1.2, "initial_soc"), ("var_pts", {"r_n": 1}, "var_pts"),
])
def test_a_bad_field_is_named(field, value, named):
    with pytest.raises(ParameterError, match=named):
        EchemCellParameters.from_dict({"kind": "cell_echem", "name": "x", field: value})


def test_run_time_parameter_name_unit_and_range():
    rp = RunTimeParameter(pybamm_name="Negative particle diffusivity [m2.s-1]")
    assert rp.fmi_name == "negativeParticleDiffusivity" and rp.unit == "m2.s-1"
    assert rp.limits(3.3e-14) == pytest.approx((3.3e-15, 3.3e-13))
    assert RunTimeParameter(pybamm_name="Electrode width [m]", name="width", min=0.5, max=2).limits(1.58) == (0.5, 2)
    with pytest.raises(ValueError, match="must be finite and hold"):
        RunTimeParameter(pybamm_name="Electrode width [m]", min=2, max=3).limits(1.58)
    assert RunTimeParameter(pybamm_name="Cation transference number").unit == "1"


def test_run_time_names_must_be_distinct():
    same = [{"pybamm_name": "Electrode width [m]"}, {"pybamm_name": "Electrode width [m]"}]
    with pytest.raises(ParameterError, match="not distinct"):
        EchemCellParameters.from_dict({"kind": "cell_echem", "name": "x", "run_time_parameters": same})


def test_an_unknown_run_time_parameter_is_named():
    from fmutwin.twins.echem_casadi import EchemCasadi

    with pytest.raises(ValueError, match=r"\['Flux capacitor \[F\]'\] are not parameters of Chen2020"):
        EchemCasadi("SPM", run_time_parameters=["Flux capacitor [F]"])


@pytest.mark.parametrize("unit, exponents", [
    ("m2.s-1", {"m": 2, "s": -1}), ("mol.m-3", {"mol": 1, "m": -3}), ("A.m-2", {"A": 1, "m": -2}),
    ("Ohm.m2", {"kg": 1, "m": 4, "s": -3, "A": -2}), ("V", {"kg": 1, "m": 2, "s": -3, "A": -1}),
    ("J.mol-1", {"kg": 1, "m": 2, "s": -2, "mol": -1}),
])
def test_pybamm_units_become_si_exponents(unit, exponents):
    assert si_exponents(unit) == exponents


def test_an_unknown_unit_is_named():
    with pytest.raises(ValueError, match="'furlong' is neither an SI base unit"):
        si_exponents("furlong.s-1")
