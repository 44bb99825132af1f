"""The docker role's other paths, seen from the host."""

import json

SOURCES = "/etc/apt/sources.list.d/docker.sources"


def test_daemon_json_merges_every_contributor(host):
    merged = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert merged["labels"] == ["written-by=hand"]  # adopted, not clobbered
    assert merged["log-opts"] == {"max-size": "50m", "max-file": "3"}  # operator over defaults
    assert merged["default-ulimits"]["nofile"]["Soft"] == 4096
    assert merged["registry-mirrors"] == ["https://mirror.lab.invalid"]
    assert merged["runtimes"] == {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}}
    assert "default-runtime" not in merged
    assert merged["live-restore"] is True
    fragments = host.file("/etc/docker/daemon.json.d").listdir()
    assert sorted(fragments) == ["00-adopted.json", "10-defaults.json", "50-operator.json", "60-nvidia.json"]


def test_daemon_runs_with_the_merged_settings(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert "written-by=hand" in info["Labels"]
    assert "nvidia" in info["Runtimes"]
    assert info["RegistryConfig"]["Mirrors"] == ["https://mirror.lab.invalid/"]


def test_operator_log_size_reaches_containers(container_log_config):
    assert container_log_config["Config"] == {"max-file": "3", "max-size": "50m"}


def test_container_runs_with_default_ulimit(host, test_image):
    limit = host.check_output("docker run --rm %s sh -c 'ulimit -n'" % test_image)
    assert limit == "4096"


def test_engine_version_is_pinned(host):
    version = host.ansible.get_variables()["docker_version"]
    installed = host.package("docker.io").version
    assert installed.startswith(version.rstrip("*"))
    preferences = host.file("/etc/apt/preferences.d/docker").content_string
    assert "Pin: version %s" % version in preferences
    policy = host.check_output("apt-cache policy docker.io")
    assert "1001" in policy


def test_docker_group_member(host):
    assert "docker" in host.user("alice").groups


def test_official_source_file(host):
    release = host.system_info.codename
    source = dict(
        line.split(": ", 1)
        for line in host.file(SOURCES).content_string.splitlines()
        if ": " in line and not line.startswith("#")
    )
    assert source["Types"] == "deb"
    assert source["URIs"] == "https://download.docker.com/linux/debian"
    assert source["Suites"] == release
    assert source["Components"] == "stable"
    assert source["Signed-By"] == "/etc/apt/keyrings/docker.asc"
    key = host.file("/etc/apt/keyrings/docker.asc")
    assert key.mode == 0o644
    assert key.content_string.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_apt_trusts_the_official_source_with_its_keyring(host):
    release = host.system_info.codename
    with host.sudo():
        update = host.run("apt-get update -o APT::Update::Error-Mode=any")
    assert update.rc == 0, update.stdout + update.stderr
    assert "https://download.docker.com/linux/debian %s InRelease" % release in update.stdout
    docker_lines = [line for line in update.stdout.splitlines() if "download.docker.com" in line]
    assert not [line for line in docker_lines if line.startswith(("Ign", "Err"))], docker_lines
    # apt keeps an InRelease only once its signature checked out against Signed-By.
    assert host.file("/var/lib/apt/lists/download.docker.com_linux_debian_dists_%s_InRelease" % release).exists
