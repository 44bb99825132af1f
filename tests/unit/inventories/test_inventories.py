"""The example inventories set only variables the roles declare, with a vault
reference for every secret, and every reference is listed for the operator."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).parents[3]
PRODUCTION = ROOT / "inventories" / "production"
# Variables of playbooks (not roles): the health check's and the connection's.
PLAYBOOK_VARS = {"health_check_http", "health_check_tcp", "health_check_systemd", "health_check_disk",
                 "health_check_docker_containers", "health_check_gpu", "health_check_postgres",
                 "health_check_redis"}
# The lab's own, read by its playbooks (playbooks/lab: the stand-in app's images), and its secrets.
LAB_VARS = {"lab_images_dir", "lab_standin_image", "lab_chat_version", "lab_rag_version", "lab_chat_token",
            "lab_api_key", "lab_chat_migrate", "lab_chat_db_password", "lab_rag_db_password"}
SECRETS = re.compile(r"(password|secret|passphrase|access_key|api_url|bcrypt)")


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def _role_options():
    options = {}
    for spec in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in _load(spec)["argument_specs"].values():
            for name, option in (entry.get("options") or {}).items():
                options[name] = option
    return options


def _group_vars(inventory):
    found = {}
    for path in sorted((inventory / "group_vars").rglob("*.yml")):
        for name, value in _load(path).items():
            found[(path.relative_to(inventory).as_posix(), name)] = value
    return found


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("inventory", ["lab", "production"])
def test_group_vars_are_declared_role_or_playbook_variables(inventory):
    options = _role_options()
    unknown = [key for key in _group_vars(ROOT / "inventories" / inventory)
               if key[1] not in options and key[1] not in PLAYBOOK_VARS
               and not (inventory == "lab" and key[1] in LAB_VARS)]
    assert unknown == []


def test_production_secrets_are_vault_references_listed_in_the_example():
    listed = set(_load(PRODUCTION / "group_vars" / "all" / "vault.yml.example"))
    referenced = set()
    for (path, name), value in _group_vars(PRODUCTION).items():
        for text in _strings(value):
            referenced.update(re.findall(r"\{\{\s*(vault_\w+)\s*\}\}", text))
        if SECRETS.search(name) and not name.endswith("_user"):
            assert re.fullmatch(r"\{\{ vault_\w+ \}\}", str(value)), "%s in %s is not a vault reference" % (name, path)
    assert referenced == listed


def test_production_no_log_options_come_from_the_vault():
    options = _role_options()
    for (path, name), value in _group_vars(PRODUCTION).items():
        if options.get(name, {}).get("no_log"):
            assert "vault_" in str(value), "%s in %s holds a secret in clear" % (name, path)
