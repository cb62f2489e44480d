"""Parameter files: round trip, the shipped default's provenance, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from cells import all_features, cell_dict
from fmutwin.params import CellParameters, ParameterError, default_cell_parameters
from fmutwin.params.defaults import default_cell_file


def test_json_round_trip(tmp_path):
    params = all_features()
    path = tmp_path / "cell.json"
    params.save(path)
    assert CellParameters.load(path) == params


def test_default_set_is_pybamm_ecm_example_converted():
    """The shipped JSON is exactly what the converter makes of PyBaMM's own data files."""
    from fmutwin.params.pybamm_ecm import pybamm_ecm_example

    assert default_cell_parameters() == pybamm_ecm_example()
    params = default_cell_parameters()
    assert "PyBaMM" in params.source and "BSD" in params.source
    assert params.nominal_capacity_As == 100 * 3600


def test_shipped_set_says_where_it_came_from():
    """The shipped set carries a sealed provenance record: source, licence, data-file hashes."""
    from fmutwin.params.pybamm_ecm import DATA_FILES, pybamm_ecm_data_dir
    from fmutwin.provenance import check, content_sha256, file_sha256, is_stale

    params = default_cell_parameters()
    origin = params.provenance["origin"]
    assert "BSD-3-Clause" in origin["licence"] and origin["url"].startswith("https://github.com/pybamm-team/")
    assert params.provenance["content_sha256"] == content_sha256(params)
    assert {f["file"]: f["sha256"] for f in origin["data_files"]} == {
        name: file_sha256(pybamm_ecm_data_dir() / name) for name in DATA_FILES}
    findings = check(params)
    assert not is_stale(findings) and {f.status for f in findings} == {"ok"}
    edited = params.model_copy(update={"nominal_capacity_As": 50 * 3600.0})
    assert is_stale(check(edited))


def _error(tmp_path, data) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    with pytest.raises(ParameterError) as info:
        CellParameters.load(path)
    return str(info.value)


def test_negative_capacity_is_named(tmp_path):
    msg = _error(tmp_path, cell_dict(nominal_capacity_As=-3600.0))
    assert "nominal_capacity_As" in msg and "greater than 0" in msg and "-3600" in msg


def test_non_monotonic_grid_is_named(tmp_path):
    table = {"soc": [0.0, 0.6, 0.5, 1.0], "values": [3.0, 3.5, 3.6, 4.1]}
    msg = _error(tmp_path, cell_dict(ocv_V=table))
    assert "ocv_V" in msg and "strictly increasing" in msg


def test_table_shape_mismatch_is_named(tmp_path):
    table = {"soc": [0.0, 0.5, 1.0], "temperature_K": [273.15, 298.15], "values": [[1e-3, 1e-3], [1e-3, 1e-3]]}
    msg = _error(tmp_path, cell_dict(r0_ohm=table))
    assert "r0_ohm" in msg and "(2, 2)" in msg and "(3, 2)" in msg


def test_nan_is_rejected(tmp_path):
    data = cell_dict()
    data["thermal"]["mass_J_per_K"] = float("nan")
    msg = _error(tmp_path, json.dumps(data))  # json writes NaN, Python's json reads it back
    assert "thermal.mass_J_per_K" in msg and "finite" in msg


def test_missing_key_is_named(tmp_path):
    data = cell_dict()
    del data["thermal"]
    msg = _error(tmp_path, data)
    assert "thermal" in msg and "required" in msg.lower()


def test_unknown_key_suggests_the_closest_valid_names(tmp_path):
    data = cell_dict()
    data["thermal"]["mass_J_per_k"] = data["thermal"].pop("mass_J_per_K")
    msg = _error(tmp_path, data)
    assert "thermal" in msg and "'mass_J_per_k'" in msg and "did you mean 'mass_J_per_K'" in msg
    msg = _error(tmp_path, {**cell_dict(), "nominal_capacity": 1.0})
    assert "did you mean 'nominal_capacity_As'" in msg


def test_several_errors_reported_together_and_nothing_half_loaded(tmp_path):
    msg = _error(tmp_path, cell_dict(nominal_capacity_As=0.0, r0_ohm=-1.0))
    assert "2 invalid field(s)" in msg and "nominal_capacity_As" in msg and "r0_ohm" in msg


def test_malformed_json_is_a_parameter_error(tmp_path):
    msg = _error(tmp_path, '{"name": "x", ')
    assert "not valid JSON" in msg


def test_fields_carry_units_in_descriptions():
    for name, field in CellParameters.model_fields.items():
        assert field.description or name in ("hysteresis", "cycling_aging", "calendar_aging", "faults", "initial",
                                             "thermal"), name
    assert "[As]" in CellParameters.model_fields["nominal_capacity_As"].description


def test_default_file_is_packaged():
    assert default_cell_file().is_file()


def _numeric_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _numeric_leaves(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numeric_leaves(value, path + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path


@pytest.mark.parametrize("bad", [True, 1e308, -1e308], ids=["bool", "1e308", "-1e308"])
def test_no_number_of_a_cell_file_accepts_what_no_cell_can_be(bad):
    """Every number of a file with every feature on (capacity, each table value and breakpoint,
    thermal, aging, fault and initial values), set to a boolean or to +-1e308, is refused, and the
    message names the field. (Before physical ranges, 76 of 2000 random mutations were accepted.)"""
    import copy

    data = all_features().model_dump(exclude_none=True, exclude={"provenance"})
    paths = list(_numeric_leaves(data))
    assert len(paths) > 500
    accepted = []
    for path in paths:
        mutated = copy.deepcopy(data)
        node = mutated
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = bad
        try:
            CellParameters.from_dict(mutated)
        except ParameterError as exc:
            top = str(path[0])
            assert top in str(exc), (path, str(exc))
        else:
            accepted.append(path)
    assert not accepted, accepted[:10]


@pytest.mark.parametrize("field, value, expect", [
    ("nominal_capacity_As", True, "boolean where a number is expected"),
    ("nominal_capacity_As", 1e12, "less than or equal to 100000000"),
    ("r0_ohm", 1e308, "every value must be in (0, 1000] Ohm"),
    ("soc_limits", [1, 2], "0 <= lower < upper <= 1"),
    ("initial", {"soc": 0.5, "temperature_K": 1e308}, "initial.temperature_K"),
    ("ocv_V", {"soc": [0.0, 1.0], "values": [3.0, 40.0]}, "every value must be in [0, 10] V"),
    ("entropic_coefficient_V_per_K", 0.5, "every value must be in [-0.01, 0.01] V/K"),
])
def test_physical_range_errors_name_field_and_range(tmp_path, field, value, expect):
    msg = _error(tmp_path, cell_dict(**{field: value}))
    assert field in msg and expect in msg, msg


def test_shipped_echem_module_is_remade_and_traces_to_its_pybamm_parameter_set():
    from fmutwin.params.defaults import default_module_echem_parameters
    from fmutwin.params.module_example import module_echem_example
    from fmutwin.provenance import check, is_stale

    module = default_module_echem_parameters()
    assert module == module_echem_example()
    findings = check(module)
    assert {f.status for f in findings} == {"ok"} and any(f.what == "PyBaMM parameter set Chen2020" for f in findings)
    assert module.provenance["source_model"]["model"] == "SPMe"
    edited = module.model_copy(update={"cell": module.cell.model_copy(update={"heat_capacity_J_per_K": 1.0})})
    assert is_stale(check(edited))
    other_set = module.model_copy(update={"provenance": {**module.provenance, "source_model": {
        **module.provenance["source_model"], "parameter_values_sha256": "0" * 64}}})
    assert any(f.status == "stale" and "Chen2020" in f.what for f in check(other_set))


def test_shipped_module_is_made_from_the_shipped_cell_and_traces_to_it():
    from fmutwin.params.defaults import default_module_parameters
    from fmutwin.params.module_example import module_example
    from fmutwin.provenance import check, is_stale

    module = default_module_parameters()
    assert module == module_example(default_cell_parameters())
    findings = check(module)
    assert {f.status for f in findings} == {"ok"} and any(f.what == "cell provenance record" for f in findings)
    edited = module.model_copy(update={"cell": module.cell.model_copy(update={"nominal_capacity_As": 1.0})})
    assert is_stale(check(edited))
