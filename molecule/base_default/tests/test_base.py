"""The base role's baseline, seen from the host."""

import pytest
import scenario_runs

SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 "


def sshd_settings(host):
    with host.sudo():
        lines = host.check_output("sshd -T").splitlines()
    return dict(line.split(" ", 1) for line in lines if " " in line)


@pytest.mark.parametrize("keyword, value", [
    ("permitrootlogin", "no"),
    ("passwordauthentication", "no"),
    ("kbdinteractiveauthentication", "no"),
    ("x11forwarding", "no"),
    ("maxauthtries", "3"),
    ("ciphers", "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
                "aes256-ctr,aes192-ctr,aes128-ctr"),
    ("macs", "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"),
])
def test_sshd_runs_with_hardened_settings(host, keyword, value):
    assert sshd_settings(host)[keyword] == value


def test_admin_user_logs_in_with_key_and_has_sudo(host):
    with host.sudo():
        result = host.run(SSH + "-i /root/ops_key ops@127.0.0.1 sudo -n id -un")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "root"


@pytest.mark.parametrize("login, refusal", [
    # A password is not even offered.
    ("-o PreferredAuthentications=password -o PubkeyAuthentication=no ops@127.0.0.1", "Permission denied (publickey)"),
    # Root has the key in authorized_keys (prepare): only PermitRootLogin refuses it.
    ("-i /root/ops_key root@127.0.0.1", "Permission denied"),
    ("-c aes128-cbc -i /root/ops_key ops@127.0.0.1", "no matching cipher"),
], ids=["password", "root", "cbc-cipher"])
def test_login_refused(host, login, refusal):
    with host.sudo():
        result = host.run(SSH + login + " true")
    assert result.rc == 255
    assert refusal in result.stderr


def test_time_zone_and_chrony(host):
    # side_effect pointed /etc/localtime at Asia/Tokyo before converging again.
    assert host.file("/etc/localtime").linked_to.endswith("Europe/Berlin")
    assert host.check_output("date +%Z") in ("CET", "CEST")
    assert host.service("chrony").is_running
    assert "pool 2.debian.pool.ntp.org iburst" in host.file("/etc/chrony/chrony.conf").content_string


def test_journal_is_persistent_and_bounded(host):
    with host.sudo():
        config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=1G" in config
    assert host.file("/var/log/journal").is_directory


def test_unattended_upgrades_enabled_without_reboot(host):
    config = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in config
    assert host.package("unattended-upgrades").is_installed


def test_host_name_and_inventory_hosts(host):
    name = host.backend.get_hostname()
    # side_effect drifted one of the two names on each host, and the zone.
    assert host.check_output("hostname") == name
    assert host.file("/etc/hostname").content_string.strip() == name
    hosts = host.file("/etc/hosts").content_string
    assert "# BEGIN aiplatform.infra: inventory hosts" in hosts
    # Both scenario hosts, by the addresses their facts gave.
    for other in ("deb12", "deb13"):
        peer = scenario_runs.host(other)
        address = peer.interface("eth0").addresses[0]
        assert "%s %s\n" % (address, other) in hosts


def test_locale_is_generated_and_set(host):
    assert "en_US.utf8" in host.check_output("locale -a").split()
    assert "LANG=en_US.UTF-8" in host.file("/etc/default/locale").content_string


@pytest.mark.parametrize("key, value", [
    ("net.ipv4.conf.all.accept_redirects", "0"),
    ("net.ipv4.conf.all.send_redirects", "0"),
    ("net.ipv4.conf.all.rp_filter", "1"),
    ("net.ipv4.tcp_syncookies", "1"),
    ("net.core.somaxconn", "4096"),
])
def test_network_sysctls_are_live(host, key, value):
    assert host.check_output("sysctl -n %s" % key) == value


def test_kernel_sysctls_are_written_for_boot(host):
    # Global keys are not set live in a container (they belong to the machine's kernel).
    config = host.file("/etc/sysctl.d/90-aiplatform.conf").content_string.splitlines()
    for line in ("vm.swappiness=10", "kernel.kptr_restrict=2", "fs.suid_dumpable=0", "vm.max_map_count=262144"):
        assert line in config


def test_no_core_dumps_for_a_login(host):
    with host.sudo():
        result = host.run(SSH + "-i /root/ops_key ops@127.0.0.1 'ulimit -Hc'")
    assert result.stdout.strip() == "0", result.stderr


@pytest.mark.parametrize("path, mode", [("/etc/crontab", 0o600), ("/etc/cron.d", 0o700), ("/etc/ssh/sshd_config", 0o600)])
def test_modes_are_tightened(host, path, mode):
    assert host.file(path).mode == mode


def test_unwanted_packages_are_gone_and_modules_blocked(host):
    assert not host.package("telnetd").is_installed
    assert "install cramfs /bin/false" in host.file("/etc/modprobe.d/aiplatform-blocked.conf").content_string


def apt_packages(host, args, check):
    return host.ansible("aiplatform.infra.apt_packages", args, check=check, become=True)


def test_apt_packages_hands_apt_only_what_would_change(host):
    """The role's package action, on the real dpkg and apt of a converged host."""
    unchanged = apt_packages(host, "name=chrony,nftables,unattended-upgrades update_cache=true", check=True)
    assert unchanged["changed"] is False and unchanged["packages"] == [], unchanged
    assert "cache_updated" not in unchanged
    missing = apt_packages(host, "name=chrony,sl", check=True)
    assert missing["changed"] is True and missing["packages"] == ["sl"], missing
    removal = apt_packages(host, "name=chrony,telnetd state=absent purge=true", check=True)
    assert removal["changed"] is True and removal["packages"] == ["chrony"], removal
    assert host.package("chrony").is_installed

    try:
        installed = apt_packages(host, "name=sl", check=False)
        assert installed["changed"] is True and installed["packages"] == ["sl"], installed
        assert host.package("sl").is_installed
        assert apt_packages(host, "name=sl", check=False)["changed"] is False
    finally:
        removed = apt_packages(host, "name=sl state=absent purge=true", check=False)
    assert removed["packages"] == ["sl"] and not host.package("sl").is_installed, removed


def test_firewall_drops_by_default_and_lets_ssh_in(host):
    with host.sudo():
        chain = host.check_output("nft list chain inet aiplatform input")
    assert "policy drop" in chain
    assert "tcp dport 22 accept" in chain
