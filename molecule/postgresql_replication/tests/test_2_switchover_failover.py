"""Switchover, failover and rejoin with the playbooks, on the cluster test_1 checked.

The tests run in order and each starts from the cluster the one before left:
pg-1 primary; switchover to pg-2; pg-2 killed and a failover to pg-1 or pg-3;
pg-2 rejoined as a replica; last, a stopped replica's slot gives up WAL at
the bound. The scenario runs quorum commit (ANY 1), so no acknowledged row
may be lost.
"""

import subprocess
import time

import pytest
from cluster import ADDRESS, APP_DSN, CA, MEMBERS, SERVICE, converge, health_check
from scenario_runs import changed_hosts, changed_tasks, host, playbook, quote, sql

# Which member is the primary now; the tests move it.
CLUSTER = {"primary": "pg-1"}
WRITER = """
i=0; : > /tmp/acked
while [ ! -e /tmp/stop-writer ]; do
  i=$((i + 1))
  psql -XAtq {dsn} -c "INSERT INTO acked VALUES ($i)" >/dev/null 2>&1 && echo $i >> /tmp/acked
done
"""


def primary_now():
    return CLUSTER["primary"]


def streams_from(replica, primary):
    """Whether a replica is a standby that streams from the given primary."""
    return sql(replica, "SELECT pg_is_in_recovery() || ' ' || coalesce((SELECT status || ' ' || sender_host "
                        "FROM pg_stat_wal_receiver), '')") == "true streaming %s" % ADDRESS[primary]


def wait_until(check, seconds=30):
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


@pytest.fixture(scope="module")
def app():
    app = host("pg-app")
    app.check_output("printf '%%s\\n' %s > /tmp/ca.crt" % quote(host("pg-1").check_output("cat %s" % CA)))
    return app


def test_switchover_refuses_a_target_that_is_no_member():
    proc = playbook("aiplatform.infra.pg_switchover", pg_switchover_to="pg-app")
    assert proc.returncode != 0
    assert "Switchover refused, nothing changed: pg-app is no member of the cluster" in proc.stdout
    assert sql("pg-1", "SELECT pg_is_in_recovery()") == "f"


def test_failover_refuses_while_the_primary_runs():
    proc = playbook("aiplatform.infra.pg_failover")
    assert proc.returncode != 0
    assert "pg-1 runs as primary: a failover is for a primary that is gone" in proc.stdout


def test_switchover_swaps_roles_with_no_lost_commit():
    sql("pg-1", "CREATE TABLE acked (i int); ALTER TABLE acked OWNER TO app; "
                "INSERT INTO acked SELECT -generate_series(1, 100)", db="appdb")
    proc = playbook("aiplatform.infra.pg_switchover", pg_switchover_to="pg-2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    CLUSTER["primary"] = "pg-2"
    assert sql("pg-2", "SELECT pg_is_in_recovery()") == "f"
    assert streams_from("pg-1", "pg-2") and streams_from("pg-3", "pg-2")
    assert sql("pg-2", "SELECT count(*) FROM acked", db="appdb") == "100"
    sql("pg-2", "INSERT INTO acked VALUES (0)", db="appdb")
    assert wait_until(lambda: sql("pg-1", "SELECT count(*) FROM acked", db="appdb") == "101")
    # The new primary holds a slot per member, the old primary none.
    assert sql("pg-2", "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) "
                       "FROM pg_replication_slots") == "pg_1:true,pg_3:true"
    assert sql("pg-1", "SELECT count(*) FROM pg_replication_slots") == "0"


def test_the_role_refuses_an_inventory_that_names_the_old_primary():
    proc = converge()
    assert proc.returncode != 0
    assert "pg-1 is a standby, not the primary the inventory names (pg-2 runs as primary)" in proc.stdout


def test_the_role_changes_nothing_on_the_switched_cluster():
    proc = converge(postgresql_primary_host="pg-2")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert changed_hosts(proc) == [], changed_tasks(proc)


def test_failover_after_the_primary_is_killed_loses_no_acknowledged_row(app):
    """pg-2 dies under a stream of acknowledged inserts from the app host."""
    app.check_output("rm -f /tmp/stop-writer /tmp/acked")
    writer = WRITER.format(dsn=quote(APP_DSN % (ADDRESS["pg-2"], "verify-full")))
    app.check_output("nohup sh -c %s >/dev/null 2>&1 &" % quote(writer))
    assert wait_until(lambda: int(app.check_output("wc -l < /tmp/acked") or 0) >= 20)
    subprocess.run(["docker", "kill", "pg-2"], check=True, capture_output=True)
    lost_at = time.monotonic()
    app.check_output("touch /tmp/stop-writer")

    proc = playbook("aiplatform.infra.pg_failover")
    playbook_seconds = time.monotonic() - lost_at
    assert proc.returncode == 0, proc.stdout[-3000:]
    new = [name for name in ("pg-1", "pg-3") if sql(name, "SELECT pg_is_in_recovery()") == "f"]
    assert len(new) == 1, new
    CLUSTER["primary"] = new[0]
    assert wait_until(lambda: sql(new[0], "INSERT INTO acked VALUES (0) RETURNING 'ok'", db="appdb") == "ok", 60)
    writes_seconds = time.monotonic() - lost_at

    acked = {int(line) for line in app.check_output("cat /tmp/acked").split()}
    present = {int(v) for v in sql(new[0], "SELECT i FROM acked WHERE i > 0", db="appdb").split()}
    assert acked and acked <= present, sorted(acked - present)[:10]
    other = "pg-3" if new[0] == "pg-1" else "pg-1"
    assert wait_until(lambda: streams_from(other, new[0]))
    print("\nFIGURE failover: %d acknowledged rows kept; primary lost to writes accepted on %s: %.1f s "
          "(playbook %.1f s)" % (len(acked), new[0], writes_seconds, playbook_seconds))
    assert writes_seconds < 60


def test_the_old_primary_rejoins_as_a_replica_with_pg_rewind():
    subprocess.run(["docker", "start", "pg-2"], check=True, capture_output=True)
    # Back from the crash, pg-2 starts as the primary it was: the rejoin rewinds it.
    assert wait_until(lambda: host("pg-2").run("runuser -u postgres -- psql -XAtqc 'SELECT 1'").rc == 0)
    proc = converge(postgresql_primary_host=primary_now())
    assert proc.returncode == 0, proc.stdout[-3000:]
    rewind = proc.stdout[proc.stdout.index("Rewind a former primary"):]
    assert "changed: [pg-2]" in rewind[:rewind.index("TASK [")], rewind[:500]
    assert "could not rewind" not in proc.stdout
    assert wait_until(lambda: streams_from("pg-2", primary_now()))
    count = sql(primary_now(), "SELECT count(*) FROM acked", db="appdb")
    assert wait_until(lambda: sql("pg-2", "SELECT count(*) FROM acked", db="appdb") == count)


def test_the_role_changes_nothing_after_the_rejoin():
    proc = converge(postgresql_primary_host=primary_now())
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert changed_hosts(proc) == [], changed_tasks(proc)


def test_the_health_check_sees_the_new_primary_and_its_replicas(tmp_path):
    checks = health_check(tmp_path / "health.json", postgresql_primary_host=primary_now())[1]
    for name in MEMBERS:
        check = checks[name]
        assert check["status"] == "ok", check
        assert check["value"]["role"] == ("primary" if name == primary_now() else "replica")


def test_a_stopped_replica_slot_stops_holding_wal_at_the_bound():
    """Last: it leaves a replica stopped and its slot lost."""
    primary = primary_now()
    stopped, running = [name for name in MEMBERS if name != primary]
    slot = {name: name.replace("-", "_") for name in MEMBERS}
    host(stopped).check_output("systemctl stop %s" % SERVICE)
    for i in range(12):
        sql(primary, "INSERT INTO acked SELECT -g FROM generate_series(1, 1000) g; SELECT pg_switch_wal()", db="appdb")
    sql(primary, "CHECKPOINT")
    # 192 MB of WAL went by: past the 64 MB bound the checkpoint gives the
    # slot's WAL up (without a bound the slot would keep all of it).
    assert sql(primary, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '%s'" % slot[stopped]) == "lost"
    assert sql(primary, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '%s'" % slot[running]) == \
        "reserved"


def test_the_health_check_turns_red_for_the_stopped_replica(tmp_path):
    """After the previous test: one replica is stopped."""
    primary = primary_now()
    stopped = [name for name in MEMBERS if name != primary and
               host(name).run("systemctl is-active %s" % SERVICE).rc != 0]
    assert len(stopped) == 1
    proc, checks = health_check(tmp_path / "health.json", postgresql_primary_host=primary)
    assert proc.returncode != 0, "the health check passed with a replica stopped"
    assert checks[stopped[0]]["status"] == "fail", checks[stopped[0]]
    assert checks[primary]["status"] == "fail"
    assert "1 replica(s) connected, 2 expected" in checks[primary]["reason"], checks[primary]
    running = [name for name in MEMBERS if name not in (primary, stopped[0])][0]
    assert checks[running]["status"] == "ok", checks[running]
