"""The monitoring roles' sources, targets and rules, rendered as the roles render them.

GitHub and an operator's mirror are not reachable from the test machines,
so the tarball URLs and checksum sources are checked as computed, and the
files the roles write are rendered by the template module from the roles'
own variables, on this machine, without a managed host.
"""

import json
import pathlib
import subprocess
import sys

import yaml

ROLES = pathlib.Path(__file__).parents[3] / "roles"


def _play(tmp_path, role, tasks, extra, inventory=None):
    """Runs tasks on localhost with a role's defaults and vars loaded; returns the JSON it wrote."""
    if (ROLES / role / "files").exists():
        (tmp_path / "files").symlink_to(ROLES / role / "files")  # where the file lookup looks outside a role
    play = [{
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(ROLES / role / "defaults/main.yml"), str(ROLES / role / "vars/main.yml")],
        "vars": {"ansible_python_interpreter": sys.executable, "ansible_connection": "local"},
        "tasks": tasks,
    }]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory or {"all": {"hosts": {"localhost": {}}}}))
    # Extra vars: the role's defaults come in as vars_files, which beat play vars.
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    subprocess.run(["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), "-e", "@" + str(tmp_path / "extra.json"),
                    str(tmp_path / "play.yml")], check=True, capture_output=True, text=True, cwd=tmp_path)


def _sources(tmp_path, source, extra=None):
    tasks = [
        {"ansible.builtin.set_fact": {"found": "{{ found | default({}) | combine({item: {"
                                      "'tarball': _exporters_item_tarball, 'checksum': _exporters_item_checksum,"
                                      " 'unpacked': _exporters_item_unpacked, 'exec': _exporters_item_exec}}) }}"},
         "loop": ["node", "postgres", "nginx", "blackbox", "redis"]},
        {"ansible.builtin.template": {"src": str(ROLES / "exporters/templates/exporter.service.j2"),
                                      "dest": str(tmp_path / "{{ item }}.service")},
         "loop": ["node", "nginx"]},
        {"ansible.builtin.copy": {"content": "{{ found | to_json }}", "dest": str(tmp_path / "out.json")}},
    ]
    variables = {"ansible_facts": {"architecture": "x86_64"}, "exporters_install_source": source}
    variables.update(extra or {})
    _play(tmp_path, "exporters", tasks, variables)
    return json.loads((tmp_path / "out.json").read_text())


def test_release_tarballs_and_their_published_sums(tmp_path):
    found = _sources(tmp_path, "release")
    gh = "https://github.com"
    assert found["node"]["tarball"] == gh + "/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz"
    assert found["node"]["checksum"] == "sha256:" + gh + "/prometheus/node_exporter/releases/download/v1.8.2/sha256sums.txt"
    assert found["node"]["unpacked"] == "/var/cache/aiplatform-exporters/node_exporter-1.8.2.linux-amd64"
    assert found["postgres"]["tarball"] == (gh + "/prometheus-community/postgres_exporter/releases/download/v0.15.0/"
                                            "postgres_exporter-0.15.0.linux-amd64.tar.gz")
    assert found["nginx"]["tarball"] == (gh + "/nginx/nginx-prometheus-exporter/releases/download/v1.3.0/"
                                         "nginx-prometheus-exporter_1.3.0_linux_amd64.tar.gz")
    assert found["nginx"]["checksum"] == ("sha256:" + gh + "/nginx/nginx-prometheus-exporter/releases/download/v1.3.0/"
                                          "nginx-prometheus-exporter_1.3.0_checksums.txt")
    assert found["blackbox"]["exec"] == "/usr/local/bin/blackbox_exporter"
    assert found["redis"]["tarball"] == (gh + "/oliver006/redis_exporter/releases/download/v1.67.0/"
                                         "redis_exporter-v1.67.0.linux-amd64.tar.gz")
    assert found["redis"]["checksum"] == "sha256:" + gh + "/oliver006/redis_exporter/releases/download/v1.67.0/sha256sums.txt"
    assert found["redis"]["unpacked"] == "/var/cache/aiplatform-exporters/redis_exporter-v1.67.0.linux-amd64"
    unit = (tmp_path / "node.service").read_text()
    assert "ExecStart=/usr/local/bin/node_exporter $ARGS" in unit
    assert "EnvironmentFile=/etc/default/prometheus-node-exporter" in unit
    assert "User=prometheus" in unit


def test_mirror_tarballs_with_a_pinned_sum(tmp_path):
    found = _sources(tmp_path, "mirror", {"exporters_mirror_url": "https://mirror.example/monitoring/",
                                          "exporters_release_checksums": {"postgres": "ab" * 32}})
    assert found["node"]["tarball"] == "https://mirror.example/monitoring/node_exporter-1.8.2.linux-amd64.tar.gz"
    assert found["node"]["checksum"] == "sha256:https://mirror.example/monitoring/sha256sums.txt"
    assert found["postgres"]["checksum"] == "sha256:" + "ab" * 32
    assert found["nginx"]["checksum"] == "sha256:https://mirror.example/monitoring/nginx-prometheus-exporter_1.3.0_checksums.txt"


def test_packages_run_debians_programs(tmp_path):
    found = _sources(tmp_path, "package")
    assert {name: value["exec"] for name, value in found.items()} == {
        "node": "/usr/bin/prometheus-node-exporter", "postgres": "/usr/bin/prometheus-postgres-exporter",
        "nginx": "/usr/bin/prometheus-nginx-exporter", "blackbox": "/usr/bin/prometheus-blackbox-exporter",
        "redis": "/usr/bin/prometheus-redis-exporter"}


def _exporter_defaults(tmp_path, item, extra):
    """The environment file of exporter ``item`` as the role renders it."""
    tasks = [{"ansible.builtin.template": {"src": str(ROLES / "exporters/templates/default.j2"),
                                           "dest": str(tmp_path / "default")}, "vars": {"item": item}}]
    variables = {"inventory_hostname": "localhost", "base_firewall_address": "10.0.0.22"}
    variables.update(extra)
    _play(tmp_path, "exporters", tasks, variables)
    return tmp_path / "default"


def test_redis_exporter_gets_its_password_in_its_environment_file_not_its_arguments(tmp_path):
    password = 'pa"ss $(id) `id` \\ end'
    path = _exporter_defaults(tmp_path, "redis", {"exporters_redis_password": password,
                                                  "exporters_redis_user": "aip_monitor"})
    read = subprocess.run(["sh", "-c", '. "$1" && printf "%s\\n%s\\n%s\\n%s" "$REDIS_ADDR" "$REDIS_USER" "$REDIS_PASSWORD" "$ARGS"',
                           "sh", str(path)], check=True, capture_output=True, text=True).stdout.split("\n")
    assert read == ["redis://127.0.0.1:6379", "aip_monitor", password, "--web.listen-address=10.0.0.22:9121"]


def test_redis_exporter_serves_tls_by_its_own_flags(tmp_path):
    path = _exporter_defaults(tmp_path, "redis", {"exporters_redis_password": "x",
                                                  "exporters_web_tls_cert": "/etc/ssl/e.pem",
                                                  "exporters_web_tls_key": "/etc/ssl/e.key"})
    assert ('ARGS="--web.listen-address=10.0.0.22:9121 --tls-server-cert-file=/etc/ssl/e.pem '
            '--tls-server-key-file=/etc/ssl/e.key"') in path.read_text()


INVENTORY = {"all": {
    "hosts": {
        "localhost": {"base_firewall_address": "10.0.0.9"},
        "db1": {"base_firewall_address": "10.0.0.21"},
        "db2": {"ansible_host": "fd00::22"},
        "edge1": {"base_firewall_address": "10.0.0.10",
                  "nginx_sites": [{"name": "chat", "server_names": ["chat.example.org", "ai.example.org"]}]},
        "edge2": {"base_firewall_address": "10.0.0.11",
                  "nginx_sites": [{"name": "chat", "server_names": ["chat.example.org"]}]},
        "gpu1": {"base_firewall_address": "10.0.0.31", "gpu_metrics_source": "dcgm_exporter"},
        "gpu2": {"base_firewall_address": "10.0.0.32"},
        "cache1": {"base_firewall_address": "10.0.0.41"},
    },
    "children": {
        "postgres": {"children": {"postgres_primary": {"hosts": {"db1": {}}},
                                  "postgres_replica": {"hosts": {"db2": {}}}}},
        "edge": {"hosts": {"edge1": {}, "edge2": {}}},
        "monitoring": {"hosts": {"localhost": {}}},
        "gpu": {"hosts": {"gpu1": {}, "gpu2": {}}},
        "redis": {"hosts": {"cache1": {}}},
    }}}


def _prometheus_files(tmp_path, extra=None):
    tasks = [
        {"ansible.builtin.template": {"src": str(ROLES / "prometheus/templates/targets.yml.j2"),
                                      "dest": str(tmp_path / "{{ item }}.yml")},
         "loop": "{{ _prometheus_jobs | list }}"},
        {"ansible.builtin.template": {"src": str(ROLES / "prometheus/templates/probes.yml.j2"),
                                      "dest": str(tmp_path / "probes.yml")}},
        {"ansible.builtin.template": {"src": str(ROLES / "prometheus/templates/rules.yml.j2"),
                                      "dest": str(tmp_path / "rules-{{ item }}.yml")},
         "loop": ["postgres", "platform"]},
    ]
    _play(tmp_path, "prometheus", tasks, extra or {}, INVENTORY)
    return lambda name: yaml.safe_load((tmp_path / name).read_text())


def test_targets_come_from_the_inventory_groups(tmp_path):
    load = _prometheus_files(tmp_path)
    assert sorted(load("node.yml"), key=lambda t: t["labels"]["host"]) == [
        {"targets": [address + ":9100"], "labels": {"host": host}} for host, address in
        [("cache1", "10.0.0.41"), ("db1", "10.0.0.21"), ("db2", "[fd00::22]"), ("edge1", "10.0.0.10"), ("edge2", "10.0.0.11"),
         ("gpu1", "10.0.0.31"), ("gpu2", "10.0.0.32"), ("localhost", "10.0.0.9")]]
    assert load("postgres.yml") == [
        {"targets": ["10.0.0.21:9187"], "labels": {"host": "db1", "pg_role": "primary", "pg_cluster": "db1"}},
        {"targets": ["[fd00::22]:9187"], "labels": {"host": "db2", "pg_role": "replica", "pg_cluster": "db1"}}]
    assert [t["targets"] for t in load("nginx.yml")] == [["10.0.0.10:9113"], ["10.0.0.11:9113"]]
    assert [t["targets"] for t in load("nginx_log.yml")] == [["10.0.0.10:3903"], ["10.0.0.11:3903"]]
    assert load("redis.yml") == [{"targets": ["10.0.0.41:9121"], "labels": {"host": "cache1"}}]
    assert load("alertmanager.yml") == [{"targets": ["10.0.0.9:9093"], "labels": {"host": "localhost"}}]
    # Only the GPU host that runs dcgm-exporter; the collector's metrics come through node_exporter.
    assert load("dcgm.yml") == [{"targets": ["10.0.0.31:9400"], "labels": {"host": "gpu1"}}]
    assert load("probes.yml") == [{"targets": ["https://chat.example.org/", "https://ai.example.org/"]}]


def test_rules_keep_prometheus_templates_and_take_for_overrides(tmp_path):
    load = _prometheus_files(tmp_path, {"prometheus_alert_for": {"PostgresqlDown": "10s"}})
    rules = {r["alert"]: r for g in load("rules-postgres.yml")["groups"] for r in g["rules"]}
    assert rules["PostgresqlDown"]["for"] == "10s"
    assert rules["PostgresqlReplicationLag"]["for"] == "5m"
    assert rules["PostgresqlDown"]["annotations"]["summary"] == (
        "PostgreSQL on {{ $labels.host }} ({{ $labels.pg_role }}) is down")
    assert "for" not in {r["alert"]: r for g in load("rules-platform.yml")["groups"] for r in g["rules"]}["Watchdog"]
