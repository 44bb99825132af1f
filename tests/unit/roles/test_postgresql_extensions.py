"""The postgresql role's extensions: which packages it installs for the
databases' extensions, and its preflight refusal of an extension it knows no
package for. The role's own variables and its own preflight task, rendered
on this machine for made-up hosts."""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

ROLE = pathlib.Path(__file__).parents[3] / "roles" / "postgresql"
ASSERT_NAME = "Assert every extension the databases ask for has a package the role knows"


# Each case a made-up host: its OS, the extensions of its database webui, more settings.
CASES = {
    "deb13": ("Debian-13", ["vector", "pgcrypto"], {}),
    "contrib": ("Debian-12", ["pgcrypto", "pg_trgm", "uuid-ossp"], {}),
    "pgdg": ("Debian-12", ["vector"], {"postgresql_install_source": "pgdg", "postgresql_version": 16}),
    "deb12_vector": ("Debian-12", ["pgcrypto", "vector"], {}),
    "unknown_12": ("Debian-12", ["pg_hint_plan"], {}),
    "unknown_13": ("Debian-13", ["pg_hint_plan"], {}),
    "named_12": ("Debian-12", ["pg_hint_plan", "postgis", "postgis_raster"],
                 {"postgresql_extension_packages": {"pg_hint_plan": "postgresql-17-pg-hint-plan"}}),
    "named_13": ("Debian-13", ["pg_hint_plan", "postgis", "postgis_raster"],
                 {"postgresql_extension_packages": {"pg_hint_plan": "postgresql-17-pg-hint-plan"}}),
}


def _preflight_task():
    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text())
    return [task for task in tasks if task["name"] == ASSERT_NAME][0]


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    """Host to (the packages to install, the preflight's message or '' when it passes), in one run:
    the role's defaults as the inventory's group variables, each case's settings as host variables."""
    tmp_path = tmp_path_factory.mktemp("postgresql_extensions")
    hosts = {}
    for name, (os_version, extensions, settings) in CASES.items():
        distribution, major = os_version.split("-")
        hosts[name] = dict(settings, ansible_connection="local", ansible_python_interpreter=sys.executable,
                           case_os={"distribution": distribution, "distribution_major_version": major},
                           postgresql_databases=[{"name": "webui", "owner": "webui", "extensions": extensions},
                                                 {"name": "rag", "owner": "rag"}])
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    play = [{
        "hosts": "all",
        "gather_facts": False,
        "vars_files": [str(ROLE / "vars" / "main.yml")],
        "tasks": [
            {"ansible.builtin.set_fact": {"distribution": "{{ case_os.distribution }}",
                                          "distribution_major_version": "{{ case_os.distribution_major_version }}",
                                          "cacheable": True}},
            {"block": [_preflight_task()],
             "rescue": [{"ansible.builtin.set_fact": {"refused": "{{ ansible_failed_result.msg }}"}}]},
            {"ansible.builtin.copy": {
                "content": "{{ {'install': _postgresql_extension_install, 'refused': refused | default('')} | to_json }}",
                "dest": str(tmp_path / "{{ inventory_hostname }}.json")}},
        ],
    }]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": defaults, "hosts": hosts}}))
    subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
                   check=True, capture_output=True, text=True, cwd=tmp_path)
    out = dict((name, json.loads((tmp_path / (name + ".json")).read_text())) for name in CASES)
    return dict((name, (result["install"], " ".join(result["refused"].split()))) for name, result in out.items())


def test_pgvector_comes_from_debian_13s_archive(found):
    assert found["deb13"] == (["postgresql-17-pgvector"], "")


def test_contrib_extensions_need_no_package(found):
    assert found["contrib"] == ([], "")


def test_pgvector_comes_from_pgdg_for_its_version(found):
    assert found["pgdg"] == (["postgresql-16-pgvector"], "")


def test_pgvector_on_debian_12s_archive_is_refused_naming_the_database_and_pgdg(found):
    install, refused = found["deb12_vector"]
    assert install == []
    assert "(database: extension): webui: vector." in refused
    assert "vector: not in this distribution's archive, set postgresql_install_source \"pgdg\"" in refused


@pytest.mark.parametrize("os_version", ["12", "13"])
def test_an_unknown_extension_is_refused_and_can_be_named(found, os_version):
    install, refused = found["unknown_" + os_version]
    assert "(database: extension): webui: pg_hint_plan." in refused
    assert "not in this distribution's archive" not in refused
    assert "postgresql_extension_packages" in refused
    major = {"12": 15, "13": 17}[os_version]
    assert found["named_" + os_version] == (["postgresql-17-pg-hint-plan", "postgresql-%d-postgis-3" % major], "")
