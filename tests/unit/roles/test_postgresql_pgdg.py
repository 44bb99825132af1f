"""The postgresql role's apt.postgresql.org source, rendered as the role renders it.

apt.postgresql.org is not reachable from the test machines, so the source is
checked as written, without fetching: the role's own template through the
template module.
"""

import json
import pathlib
import subprocess
import sys

import pytest

ROLE = pathlib.Path(__file__).parents[3] / "roles" / "postgresql"


@pytest.mark.parametrize("release", ["bookworm", "trixie", "noble"])
def test_pgdg_source_names_the_release_suite_and_the_key(tmp_path, release):
    dest = tmp_path / "pgdg.sources"
    extra = {
        "postgresql_pgdg_url": "https://apt.postgresql.org/pub/repos/apt",
        "_postgresql_pgdg_keyring": "/etc/apt/keyrings/pgdg.asc",
        "ansible_facts": {"distribution_release": release},
        "ansible_python_interpreter": sys.executable,
    }
    subprocess.run(
        ["ansible", "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.template",
         "-a", "src=%s dest=%s" % (ROLE / "templates" / "pgdg.sources.j2", dest), "-e", json.dumps(extra)],
        check=True, capture_output=True, text=True)
    fields = {}
    for line in dest.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    assert fields == {
        "Types": "deb",
        "URIs": "https://apt.postgresql.org/pub/repos/apt",
        "Suites": "%s-pgdg" % release,
        "Components": "main",
        "Signed-By": "/etc/apt/keyrings/pgdg.asc",
    }
