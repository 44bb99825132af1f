"""Every role's defaults and its meta/argument_specs.yml agree (the options of all its entry points)."""

import pathlib

import pytest
import yaml

ROLES = sorted(p for p in (pathlib.Path(__file__).parents[3] / "roles").iterdir() if p.is_dir())


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_defaults_and_argument_specs_agree(role):
    defaults = _load(role / "defaults" / "main.yml")
    options = {}
    for entry_point in _load(role / "meta" / "argument_specs.yml")["argument_specs"].values():
        options.update(entry_point.get("options") or {})
    options = dict((name, spec) for name, spec in options.items() if name in defaults or not spec.get("required"))
    assert sorted(defaults) == sorted(options), "a variable is in one file but not the other"
    for name, value in defaults.items():
        assert name.startswith(role.name + "_"), "%s is not prefixed with the role name" % name
        if isinstance(value, str) and "{{" in value:
            continue  # a templated default is documented in words
        assert options[name].get("default") == value, "%s: default differs" % name
