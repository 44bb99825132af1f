"""The monitoring core: targets from the inventory, exporters, rules and the alerting path.

Prometheus and Alertmanager run on mon-edge (also the edge); queries go to
their HTTP APIs from that host. The rule files are the role's own, copied
with their promtool unit tests from this repository.
"""

import base64
import json
import pathlib
import time
import urllib.parse

import pytest
from scenario_runs import host, quote

ADDRESS = {"mon-edge": "172.30.82.10", "mon-db1": "172.30.82.21", "mon-db2": "172.30.82.22"}
PROMETHEUS = "http://172.30.82.10:9090"
ALERTMANAGER = "http://172.30.82.10:9093"
SCRAPE_AUTH = "prometheus:lab-scrape-secret"
REPO = pathlib.Path(__file__).parents[3]
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


MON = host("mon-edge")


def get_json(url):
    return json.loads(MON.check_output("curl -fsS %s" % quote(url)))


def query(expr):
    """The result vector of an instant query, as (labels, value) pairs."""
    data = get_json("%s/api/v1/query?query=%s" % (PROMETHEUS, urllib.parse.quote(expr)))
    return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]


def wait_for(check, seconds, what):
    """Calls check until it returns something true; fails naming what after the timeout."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("%s within %d s" % (what, seconds))
        time.sleep(3)


def _active_targets():
    return get_json(PROMETHEUS + "/api/v1/targets?state=active")["data"]["activeTargets"]


EXPECTED_TARGETS = {
    ("node", "mon-edge"), ("node", "mon-db1"), ("node", "mon-db2"),
    ("postgres", "mon-db1"), ("postgres", "mon-db2"), ("nginx", "mon-edge"), ("nginx_log", "mon-edge"),
    ("alertmanager", "mon-edge"), ("prometheus", "mon-edge"), ("blackbox_https", "https://chat.mon.test/"),
}


def test_every_target_from_the_inventory_is_up():
    def all_up():
        targets = _active_targets()
        found = {(t["labels"]["job"], t["labels"].get("host", t["labels"]["instance"])): t["health"] for t in targets}
        return found if set(found) == EXPECTED_TARGETS and set(found.values()) == {"up"} else None
    wait_for(all_up, 90, "every expected target up (and no other)")


def test_postgres_targets_carry_their_role_and_cluster():
    labels = {t["labels"]["host"]: t["labels"] for t in _active_targets() if t["labels"]["job"] == "postgres"}
    assert {h: (labels[h]["pg_role"], labels[h]["pg_cluster"]) for h in labels} == {
        "mon-db1": ("primary", "mon-db1"), "mon-db2": ("replica", "mon-db1")}


def test_exporters_report_what_they_watch():
    assert {m["host"]: v for m, v in query("pg_up")} == {"mon-db1": 1, "mon-db2": 1}
    assert {m["host"]: v for m, v in query("pg_replication_status_in_recovery")} == {"mon-db1": 0, "mon-db2": 1}
    assert {m["host"]: v for m, v in query("pg_replication_status_lag_seconds")} == {"mon-db1": 0, "mon-db2": 0}
    assert [(m["slot_name"], v) for m, v in query('pg_replication_slots_active{host="mon-db1"}')] == [("mon_db2", 1)]
    assert [v for _m, v in query('nginx_up{host="mon-edge"}')] == [1]
    assert [v for _m, v in query('probe_success{instance="https://chat.mon.test/"}')] == [1]
    expiry = query('probe_ssl_earliest_cert_expiry{instance="https://chat.mon.test/"}')
    assert expiry and expiry[0][1] > time.time()
    assert query('node_systemd_unit_state{host="mon-db2",name="prometheus-postgres-exporter.service",state="active"}')


@pytest.mark.parametrize("name", sorted(ADDRESS))
def test_exporters_listen_on_the_inventory_address_only(name):
    listening = host(name).check_output("ss -Hltn | awk '{print $4}'").split()
    ports = {"mon-edge": ["9100", "9113", "3903"], "mon-db1": ["9100", "9187"], "mon-db2": ["9100", "9187"]}[name]
    for port in ports:
        assert [a for a in listening if a.endswith(":" + port)] == ["%s:%s" % (ADDRESS[name], port)]
    if name == "mon-edge":
        assert [a for a in listening if a.endswith(":9115")] == ["127.0.0.1:9115"]


@pytest.mark.parametrize("target", ["172.30.82.21:9100", "172.30.82.22:9187"])
def test_exporters_ask_for_basic_auth(target):
    without = MON.check_output("curl -s -o /dev/null -w '%%{http_code}' http://%s/metrics" % target)
    wrong = MON.check_output("curl -s -o /dev/null -w '%%{http_code}' -u prometheus:wrong http://%s/metrics" % target)
    right = MON.check_output("curl -s -o /dev/null -w '%%{http_code}' -u %s http://%s/metrics" % (SCRAPE_AUTH, target))
    assert (without, wrong, right) == ("401", "401", "200")


def test_configs_in_place_pass_promtool_and_amtool():
    MON.check_output("promtool check config /etc/prometheus/prometheus.yml")
    MON.check_output("amtool check-config /etc/prometheus/alertmanager.yml")


def test_rule_groups_are_loaded_with_the_scenario_override():
    groups = get_json(PROMETHEUS + "/api/v1/rules?type=alert")["data"]["groups"]
    assert sorted(g["name"] for g in groups) == ["backup", "blackbox", "gpu", "nginx", "node", "platform", "postgres", "redis"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    assert rules["PostgresqlDown"]["duration"] == 10
    assert rules["PostgresqlReplicationLag"]["duration"] == 300
    for rule in rules.values():
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, rule["name"]


def test_rule_unit_tests_pass_with_promtool():
    """promtool test rules on the shipped rules and tests/rules, copied to the monitoring host."""
    MON.check_output("rm -rf /tmp/aip-rules && mkdir -p /tmp/aip-rules/roles/prometheus/files/rules /tmp/aip-rules/tests/rules")
    files = list((REPO / "roles/prometheus/files/rules").glob("*.yml")) + list((REPO / "tests/rules").glob("*.yml"))
    for path in files:
        dest = "/tmp/aip-rules/" + str(path.relative_to(REPO))
        MON.check_output("echo %s | base64 -d > %s" % (base64.b64encode(path.read_bytes()).decode(), dest))
    result = MON.run("cd /tmp/aip-rules/tests/rules && promtool test rules *_test.yml")
    assert result.rc == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(list((REPO / "tests/rules").glob("*_test.yml")))


def _webhook_alerts():
    lines = MON.check_output("cat /var/tmp/alerts.jsonl 2>/dev/null || true").splitlines()
    return [(n["status"], a["labels"]) for n in map(json.loads, lines) for a in n["alerts"]]


def test_the_dead_mans_switch_reaches_the_webhook_receiver():
    wait_for(lambda: any(labels["alertname"] == "Watchdog" for _s, labels in _webhook_alerts()), 120,
             "Watchdog at the webhook receiver")


def test_textfile_metrics_reach_prometheus_and_an_old_backup_fires():
    db1 = host("mon-db1")
    db1.check_output(
        "printf 'aiplatform_backup_last_success_timestamp_seconds{kind=\"full\",database=\"app\"} 1000\\n'"
        " > %s/.aip-test.prom.tmp && mv %s/.aip-test.prom.tmp %s/aip-test.prom" % ((TEXTFILE_DIR,) * 3))
    try:
        wait_for(lambda: query('ALERTS{alertname="BackupTooOld",alertstate="firing",host="mon-db1",database="app"}'),
                 60, "BackupTooOld firing for the textfile metric")
    finally:
        db1.check_output("rm -f %s/aip-test.prom" % TEXTFILE_DIR)


def test_upstream_failures_fire_the_5xx_ratio_alert():
    """The upstream stopped: nginx answers 502, mtail counts them, the ratio alert fires."""
    MON.check_output("systemctl stop aip-upstream")
    try:
        def fired():
            MON.run("for i in $(seq 10); do curl -sk -o /dev/null https://chat.mon.test/; done")
            return query('ALERTS{alertname="NginxHigh5xxRatio",alertstate="firing",host="mon-edge"}')
        wait_for(fired, 120, "NginxHigh5xxRatio firing")
        assert query('nginx_http_responses_total{host="mon-edge",status_class="5xx"} > 0')
    finally:
        MON.check_output("systemctl start aip-upstream")


def _alertmanager_alerts(name):
    return [a for a in get_json(ALERTMANAGER + "/api/v2/alerts") if a["labels"]["alertname"] == name]


def test_stopping_postgresql_on_the_replica_fires_its_alert_in_alertmanager():
    replica = host("mon-db2")
    assert not _alertmanager_alerts("PostgresqlDown")
    replica.check_output("systemctl stop postgresql@15-main")
    try:
        alerts = wait_for(lambda: _alertmanager_alerts("PostgresqlDown"), 90, "PostgresqlDown in Alertmanager")
        assert [(a["labels"]["host"], a["labels"]["pg_role"], a["labels"]["severity"]) for a in alerts] == [
            ("mon-db2", "replica", "critical")]
        wait_for(lambda: any(s == "firing" and labels["alertname"] == "PostgresqlDown"
                             for s, labels in _webhook_alerts()), 30, "PostgresqlDown at the webhook receiver")
    finally:
        replica.check_output("systemctl start postgresql@15-main")
    wait_for(lambda: query('pg_up{host="mon-db2"} == 1'), 60, "pg_up back to 1")


def test_a_primary_down_inhibits_its_replicas_replication_alerts():
    """Alerts posted to Alertmanager directly: the inhibition rules as configured."""
    def alert(name, host, severity, cluster="inhibit-test", **labels):
        return {"labels": dict(alertname=name, host=host, severity=severity, pg_cluster=cluster, **labels)}
    posted = [alert("PostgresqlDown", "p", "critical", pg_role="primary"),
              alert("PostgresqlReplicationBroken", "p", "critical", slot_name="r"),
              alert("PostgresqlReplicationLag", "r", "warning"),
              alert("PostgresqlReplicationLag", "r2", "warning", cluster="another-cluster")]
    MON.check_output("curl -fsS -H 'Content-Type: application/json' -d %s %s/api/v2/alerts"
                     % (quote(json.dumps(posted)), ALERTMANAGER))

    def states():
        found = {(a["labels"]["alertname"], a["labels"]["host"]): a["status"]["state"]
                 for a in get_json(ALERTMANAGER + "/api/v2/alerts")
                 if a["labels"].get("pg_cluster") in ("inhibit-test", "another-cluster")}
        return found if len(found) == 4 else None
    assert wait_for(states, 30, "the posted alerts in Alertmanager") == {
        ("PostgresqlDown", "p"): "active",
        ("PostgresqlReplicationBroken", "p"): "suppressed",
        ("PostgresqlReplicationLag", "r"): "suppressed",
        ("PostgresqlReplicationLag", "r2"): "active",
    }
