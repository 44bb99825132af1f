"""Docker Engine as the docker role leaves it, seen from the host."""

import json

import pytest

DAEMON_JSON = "/etc/docker/daemon.json"


def docker_info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


def test_daemon_runs_and_starts_at_boot(host):
    service = host.service("docker")
    assert service.is_running
    assert service.is_enabled


def test_daemon_reports_the_role_defaults(host):
    info = docker_info(host)
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    assert info["Driver"] == "overlay2"


def test_daemon_json_is_the_merge_of_fragments(host):
    merged = json.loads(host.file(DAEMON_JSON).content_string)
    assert merged == {
        "live-restore": True,
        "log-driver": "json-file",
        "log-opts": {"max-file": "3", "max-size": "10m"},
        "no-new-privileges": True,
    }
    assert host.file("/etc/docker/daemon.json.d/10-defaults.json").exists
    assert not host.file("/etc/docker/daemon.json.d/50-operator.json").exists


def test_compose_plugin_where_the_release_ships_one(host):
    result = host.run("docker compose version")
    if host.system_info.codename == "bookworm":
        assert result.rc != 0  # Debian 12's docker-compose is v1, no CLI plugin
    else:
        assert result.rc == 0, result.stderr
        assert "Docker Compose version" in result.stdout


def test_no_tcp_socket(host):
    listeners = host.check_output("ss -Hltnp")
    assert "dockerd" not in listeners


def test_log_rotation_reaches_containers(container_log_config):
    assert container_log_config == {"Type": "json-file", "Config": {"max-file": "3", "max-size": "10m"}}


def test_container_from_local_image_runs(host, test_image):
    result = host.run("docker run --rm %s sh -c 'echo hello from $(hostname)'" % test_image)
    assert result.rc == 0, result.stderr
    assert "hello from" in result.stdout


def test_no_new_privileges_applies(host, test_image):
    status = host.check_output("docker run --rm %s grep NoNewPrivs /proc/self/status" % test_image)
    assert status.split() == ["NoNewPrivs:", "1"]


@pytest.mark.parametrize("settings, words", [
    ('{"no-such-option": true}', "no-such-option"),
    ('{"live-restore": "yes"}', "live-restore"),
])
def test_bad_option_is_refused_and_daemon_untouched(host, settings, words):
    before = host.file(DAEMON_JSON).content_string
    pid = host.check_output("systemctl show -p MainPID --value docker")
    result = host.ansible(
        "aiplatform.infra.docker_daemon_config",
        "name=90-bad settings='%s'" % settings,
        check=False, become=True,
    )
    assert not result.get("changed")
    assert words in result.get("msg", ""), result
    assert host.file(DAEMON_JSON).content_string == before
    assert not host.file("/etc/docker/daemon.json.d/90-bad.json").exists
    assert host.check_output("systemctl show -p MainPID --value docker") == pid
