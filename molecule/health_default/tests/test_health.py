"""playbooks/healthcheck.yml against hc-host: green when healthy, the right check red with its reason when broken."""

import json
import os
import re
import subprocess

import pytest

testinfra_hosts = ["hc-host"]

EXPIRED = {"name": "https expired", "url": "https://localhost:8444/", "ca_path": "/etc/hc-test/expired.pem"}


def healthcheck(tmp_path, **extra):
    """Runs the playbook with extra vars; returns its exit code, output and the JSON it wrote, by check name."""
    out = tmp_path / "health.json"
    varfile = tmp_path / "vars.json"
    varfile.write_text(json.dumps(dict(extra, health_check_json_path=str(out))))
    proc = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                           "aiplatform.infra.healthcheck", "-e", "@%s" % varfile],
                          capture_output=True, text=True, check=False)
    report = json.loads(out.read_text())
    checks = {c["name"]: c for c in report["hosts"]["hc-host"]["checks"]}
    return proc, checks, report


@pytest.fixture
def stopped(host):
    units = []

    def stop(unit):
        host.check_output("systemctl stop %s" % unit)
        units.append(unit)
    yield stop
    for unit in units:
        host.check_output("systemctl start %s" % unit)


def test_healthy_host_is_green(tmp_path):
    proc, checks, report = healthcheck(tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert sorted(checks) == sorted(["https valid", "http redirect", "https port", "postgres", "gpu",
                                     "hc-web.service", "postgresql.service", "/srv/hc-disk"])
    assert {name: c["status"] for name, c in checks.items() if c["status"] != "ok"} == {"gpu": "skip"}
    assert checks["gpu"]["reason"] == "no NVIDIA GPU on the PCI bus"
    assert checks["postgres"]["value"]["role"] == "primary"
    assert checks["https valid"]["value"]["cert_chain"] is True
    assert report["hosts"]["hc-host"]["summary"] == {"ok": 7, "warn": 0, "fail": 0, "skip": 1}
    assert "HOST" in proc.stdout and "hc-host" in proc.stdout   # the summary table


def test_expired_certificate_is_red(tmp_path, host):
    proc, checks, _report = healthcheck(tmp_path, health_check_http=[EXPIRED])
    assert proc.returncode != 0
    assert checks["https expired"]["status"] == "fail"
    reason = checks["https expired"]["reason"]
    assert reason.startswith("certificate expired ") and reason.endswith(
        "certificate chain not valid: certificate has expired"), reason
    assert checks["https expired"]["value"]["cert_days_left"] < -300
    # the host's failure message, out of the callback's colours and line folding
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    plain = " ".join(re.sub(r"\\\n\s*", "", output).split())
    assert "https expired: certificate expired" in plain, plain[-600:]


def test_stopped_service_is_red(tmp_path, stopped):
    stopped("hc-web.service")
    proc, checks, _report = healthcheck(tmp_path)
    assert proc.returncode != 0
    assert (checks["hc-web.service"]["status"], checks["hc-web.service"]["reason"]) == (
        "fail", "unit hc-web.service is inactive (dead)")
    assert checks["https valid"]["reason"].startswith("https://localhost:8443/ unreachable: ")
    assert checks["https port"]["reason"].startswith("127.0.0.1:8443 not reachable: ")
    assert checks["postgres"]["status"] == "ok"


def test_stopped_postgres_is_red(tmp_path, stopped):
    stopped("postgresql.service")
    proc, checks, _report = healthcheck(tmp_path)
    assert proc.returncode != 0
    assert checks["postgres"]["status"] == "fail"
    assert checks["postgres"]["reason"].startswith("postgres at 127.0.0.1:5432 does not accept connections: ")
    assert checks["postgresql.service"]["status"] == "fail"


def test_full_disk_is_red(tmp_path, host):
    host.run("dd if=/dev/zero of=/srv/hc-disk/fill bs=64k count=64")   # more than the 1 MiB: ENOSPC
    try:
        proc, checks, _report = healthcheck(tmp_path)
    finally:
        host.check_output("rm -f /srv/hc-disk/fill")
    assert proc.returncode != 0
    assert checks["/srv/hc-disk"]["status"] == "fail"
    assert checks["/srv/hc-disk"]["reason"] == "space_used_pct 100% >= 95%"


def test_warn_threshold_fails_only_with_fail_on_warn(tmp_path):
    tight = [{"path": "/srv/hc-disk", "space_warn_pct": 0}]
    proc, checks, _report = healthcheck(tmp_path, health_check_disk=tight)
    assert proc.returncode == 0 and checks["/srv/hc-disk"]["status"] == "warn"
    proc, checks, _report = healthcheck(tmp_path, health_check_disk=tight, health_check_fail_on="warn")
    assert proc.returncode != 0
    assert checks["/srv/hc-disk"]["reason"] == "space_used_pct 0% >= 0%"
