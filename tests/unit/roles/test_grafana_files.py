"""The grafana role's templates, rendered as the role renders them, and its file checker run on them.

Grafana is not installable on the test machines (its apt repository is not
reached), so its files are checked here as written; Molecule checks them on a
host and hands the apt source (aiplatform.infra.common's) to apt's own parser.
"""

import configparser
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

ROLE = pathlib.Path(__file__).parents[3] / "roles" / "grafana"
PASSWORD = 'pa;ss#word "quoted" 123'
TEMPLATES = ["grafana.ini", "grafana-check", "datasources.yaml", "dashboards.yaml"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("grafana")
    internals = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    variables = dict(yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()))
    variables.update((name, value) for name, value in internals.items() if "{{" not in str(value))
    variables.update({
        "grafana_listen_address": "172.30.83.10",
        "grafana_prometheus_url": "http://172.30.83.10:9090",
        "grafana_admin_password": PASSWORD,
        "_grafana_config": str(out / "grafana.ini"),
        "_grafana_provisioning": str(out / "provisioning"),
        "_grafana_dashboards_dir": str(ROLE / "files" / "dashboards"),
        "ansible_python_interpreter": sys.executable,
    })
    (out / "provisioning" / "datasources").mkdir(parents=True)
    (out / "provisioning" / "dashboards").mkdir()
    tasks = [{"ansible.builtin.template": {"src": str(ROLE / "templates" / (name + ".j2")), "dest": str(out / name)}}
             for name in TEMPLATES]
    tasks += [{"ansible.builtin.copy": {"src": str(out / name), "dest": str(out / "provisioning" / kind / "aiplatform.yaml")}}
              for kind, name in (("datasources", "datasources.yaml"), ("dashboards", "dashboards.yaml"))]
    playbook = out / "render.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    (out / "vars.json").write_text(json.dumps(variables))
    subprocess.run(["ansible-playbook", "-c", "local", "-i", "localhost,", "-e", "@%s" % (out / "vars.json"),
                    str(playbook)], check=True, capture_output=True, text=True)
    return out


def check(rendered, *args):
    return subprocess.run([sys.executable, str(rendered / "grafana-check")] + list(args),
                          capture_output=True, text=True, check=False)


def test_grafana_ini_settings(rendered):
    ini = configparser.ConfigParser(interpolation=None, strict=True)
    ini.read(rendered / "grafana.ini")
    assert ini["server"]["http_addr"] == "172.30.83.10" and ini["server"]["http_port"] == "3000"
    assert ini["security"]["admin_password"] == '"""%s"""' % PASSWORD   # Grafana strips the triple quotes
    assert ini["auth.anonymous"]["enabled"] == "false"
    assert ini["users"]["allow_sign_up"] == "false"
    assert check(rendered, "ini", str(rendered / "grafana.ini")).returncode == 0


def test_data_source_is_prometheus_on_the_monitoring_host(rendered):
    document = yaml.safe_load((rendered / "datasources.yaml").read_text())
    assert document["datasources"] == [{
        "name": "Prometheus", "uid": "aiplatform-prometheus", "type": "prometheus", "access": "proxy",
        "url": "http://172.30.83.10:9090", "isDefault": True, "editable": False,
        "jsonData": {"timeInterval": "15s", "httpMethod": "POST"}}]
    provider = yaml.safe_load((rendered / "dashboards.yaml").read_text())["providers"][0]
    assert provider["options"]["path"] == str(ROLE / "files" / "dashboards") and provider["folder"] == "aiplatform"


def test_checker_accepts_every_file_in_place(rendered):
    result = check(rendered, "all")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind, name, text, error", [
    ("ini", "grafana.ini", "[server]\nhttp_port = 3000\n[server]\n", "section 'server' already exists"),
    ("ini", "grafana.ini", "[auth.anonymous]\nenabled = true\n", "enabled must be false"),
    ("ini", "grafana.ini", "http_port = 3000\n", "File contains no section headers"),
    ("provisioning", "x.yaml", "datasources: []\n", "apiVersion: 1 missing"),
    ("provisioning", "x.yaml", "apiVersion: 1\n  bad: [\n", "mapping values are not allowed"),
    ("dashboard", "x.json", '{"uid": "x", "panels": [{"datasource": {"type": "prometheus", "uid": "other"}}]}',
     "is not the provisioned one"),
    ("dashboard", "x.json", '{"uid": "x", "panels": [', "Expecting"),
])
def test_checker_refuses_broken_files(rendered, tmp_path, kind, name, text, error):
    path = tmp_path / name
    path.write_text(text)
    result = check(rendered, kind, str(path))
    assert result.returncode == 1 and error in result.stderr
