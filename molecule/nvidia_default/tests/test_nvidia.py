"""The NVIDIA roles on hosts without a GPU, seen from the hosts."""

import testinfra

MARKER = "/var/tmp/before-nvidia-roles"


def host(name):
    return testinfra.get_host("docker://" + name)


def test_a_host_without_a_gpu_is_left_untouched():
    bare = host("nv-bare")
    # No NVIDIA device on its PCI bus, where the roles look.
    assert bare.check_output("grep -l 0x10de /sys/bus/pci/devices/*/vendor 2>/dev/null || true") == ""
    with bare.sudo():
        written = bare.check_output(
            "find /etc /usr/local /var/lib/dkms /boot -xdev -newer %s -not -type d 2>/dev/null || true" % MARKER)
    assert written == ""
    assert bare.check_output("dpkg-query -W -f '${Package}\\n' '*nvidia*' 2>/dev/null || true") == ""
    assert not bare.file("/etc/modprobe.d/blacklist-nouveau.conf").exists


def test_nouveau_is_blacklisted():
    content = host("nv-parts").file("/etc/modprobe.d/blacklist-nouveau.conf").content_string
    assert "\nblacklist nouveau\n" in content and "\noptions nouveau modeset=0\n" in content


def test_apt_reads_nvidia_and_debian_sources_with_their_keyrings():
    parts = host("nv-parts")
    arch = parts.check_output("dpkg --print-architecture")
    targets = parts.check_output(
        "apt-get indextargets --no-release-info --format '$(URI)' 'Created-By: Packages'").split()
    assert "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/Packages" in targets
    assert "https://nvidia.github.io/libnvidia-container/stable/deb/%s/Packages" % arch in targets
    assert "http://deb.debian.org/debian/dists/bookworm/non-free/binary-%s/Packages" % arch in targets
    assert "http://deb.debian.org/debian/dists/bookworm-updates/non-free-firmware/binary-%s/Packages" % arch in targets
    for source, keyring in (("nvidia-cuda", "/etc/apt/keyrings/nvidia-cuda.asc"),
                            ("nvidia-container-toolkit", "/etc/apt/keyrings/nvidia-container-toolkit.asc")):
        assert "Signed-By: %s" % keyring in parts.file("/etc/apt/sources.list.d/%s.sources" % source).content_string
        assert parts.file(keyring).content_string.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_the_driver_and_gpu_metrics_share_one_cuda_source():
    parts = host("nv-parts")
    source = parts.file("/etc/apt/sources.list.d/nvidia-cuda.sources").content_string
    fields = dict(line.split(": ", 1) for line in source.splitlines() if ": " in line and not line.startswith("#"))
    assert fields["URIs"] == "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
    assert (fields["Suites"], fields["Signed-By"]) == ("/", "/etc/apt/keyrings/nvidia-cuda.asc")
    assert parts.check_output("ls /etc/apt/sources.list.d/ | grep -ci cuda") == "1"
