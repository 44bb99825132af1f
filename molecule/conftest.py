"""Fixtures shared by the Molecule scenarios' testinfra tests."""

import json

import pytest

TEST_IMAGE = "aip-test/busybox:latest"
_BUILD = r"""
set -e
root=$(mktemp -d)
mkdir -p "$root/bin" "$root/build"
cp /bin/busybox "$root/bin/busybox"
tar -C "$root" -c bin | docker import - aip-test/busybox:base >/dev/null
printf 'FROM aip-test/busybox:base\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n' \
  >"$root/build/Dockerfile"
docker build -q -t {image} "$root/build" >/dev/null
rm -rf "$root"
"""


@pytest.fixture(scope="session")
def test_image_on():
    """Builds the busybox test image on a testinfra host (no registry is reachable)."""
    def build(host):
        with host.sudo():
            if host.run("docker image inspect %s" % TEST_IMAGE).rc != 0:
                host.check_output(_BUILD.format(image=TEST_IMAGE))
        return TEST_IMAGE
    return build


@pytest.fixture(scope="module")
def test_image(host, test_image_on):
    """The busybox test image, on the host under test."""
    return test_image_on(host)


@pytest.fixture
def container_log_config(host, test_image):
    """The log settings a new container gets from the daemon's defaults."""
    name = "aip-log-config"
    host.run("docker rm -f %s" % name)
    host.check_output("docker create --name %s %s true" % (name, test_image))
    try:
        return json.loads(host.check_output("docker inspect --format '{{json .HostConfig.LogConfig}}' %s" % name))
    finally:
        host.run("docker rm -f %s" % name)
