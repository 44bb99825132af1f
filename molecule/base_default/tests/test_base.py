"""The base role's baseline, seen from the host."""

import pytest

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
