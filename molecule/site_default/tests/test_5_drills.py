"""The drills, in order, on the site test_1 checked: a restore drill (backup,
restore into a scratch database on the primary, compare, drop), then a
failover drill (the primary stopped, the replica promoted, the app's writes
go on, the health check shows the new state).
"""

import json
import subprocess
import time

from lab import APP_DSN, PG_CA, ADDRESS, wait_until
from scenario_runs import host, playbook, quote, sql

WRITER = """
i=0; : > /tmp/acked
while [ ! -e /tmp/stop-writer ]; do
  i=$((i + 1))
  psql -XAtq {dsn} -c "INSERT INTO drill VALUES ($i)" >/dev/null 2>&1 && echo "$i $(date +%s.%N)" >> /tmp/acked
  sleep 0.05
done
"""


def test_restore_drill_restores_compares_and_drops_the_scratch_database():
    sql("st-db1", "CREATE TABLE drill (i int); ALTER TABLE drill OWNER TO app; "
                  "INSERT INTO drill SELECT -generate_series(1, 1000)", db="app")
    started = time.monotonic()
    host("st-db1").check_output("systemctl start aiplatform-pg-backup.service")
    backup_seconds = time.monotonic() - started
    proc = playbook("aiplatform.infra.restore", restore_host="st-db1", restore_database="app", restore_drill="true")
    drill_seconds = time.monotonic() - started - backup_seconds
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert sql("st-db1", "SELECT count(*) FROM pg_database WHERE datname LIKE 'app_drill_%'") == "0"
    print("\nFIGURE restore drill: backup %.1f s, restore + compare + drop %.1f s" % (backup_seconds, drill_seconds))


def test_the_restore_drill_fails_when_the_copy_differs():
    """The same drill against a source that has changed since the backup must fail."""
    sql("st-db1", "INSERT INTO drill VALUES (-1001)", db="app")
    proc = playbook("aiplatform.infra.restore", restore_host="st-db1", restore_database="app", restore_drill="true")
    assert proc.returncode != 0
    assert "Row counts differ" in proc.stdout, proc.stdout[-3000:]
    sql("st-db1", "DELETE FROM drill WHERE i = -1001", db="app")
    assert sql("st-db1", "SELECT count(*) FROM pg_database WHERE datname LIKE 'app_drill_%'") == "0"


def test_failover_drill_the_app_writes_on_after_the_primary_stops(tmp_path):
    app = host("st-app")
    app.check_output("command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -qy postgresql-client")
    app.check_output("printf '%%s\\n' %s > /tmp/pg-ca.crt" % quote(host("st-db1").check_output("cat %s" % PG_CA)))
    assert wait_until(lambda: sql("st-db2", "SELECT count(*) FROM drill", db="app") == "1000", 30)

    app.check_output("rm -f /tmp/stop-writer /tmp/acked")
    # The writer follows the primary: it writes to whichever host accepts writes.
    dsn = quote(APP_DSN % ("%s,%s" % (ADDRESS["st-db1"], ADDRESS["st-db2"])) + " target_session_attrs=read-write")
    app.check_output("nohup sh -c %s >/dev/null 2>&1 &" % quote(WRITER.format(dsn=dsn)))
    assert wait_until(lambda: int(app.check_output("wc -l < /tmp/acked") or 0) >= 20, 30)

    subprocess.run(["docker", "stop", "st-db1"], check=True, capture_output=True)
    lost_at, stopped_clock = time.monotonic(), time.time()  # the hosts share this machine's clock
    before = int(app.check_output("wc -l < /tmp/acked"))
    proc = playbook("aiplatform.infra.pg_failover")
    playbook_seconds = time.monotonic() - lost_at
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert sql("st-db2", "SELECT pg_is_in_recovery()") == "f"
    # The app's writes go on, now on st-db2.
    assert wait_until(lambda: int(app.check_output("wc -l < /tmp/acked")) >= before + 5, 60)
    writes_seconds = time.monotonic() - lost_at
    app.check_output("touch /tmp/stop-writer")
    acks = [line.split() for line in app.check_output("cat /tmp/acked").splitlines()]
    acked = {int(number) for number, _at in acks}
    present = {int(v) for v in sql("st-db2", "SELECT i FROM drill WHERE i > 0", db="app").split()}
    # Acknowledged after st-db1 had stopped: by st-db2. Each write of the
    # writer first waits its connect_timeout (3 s) on the stopped host.
    first_write_seconds = min(float(at) for _number, at in acks if float(at) > stopped_clock) - stopped_clock
    print("\nFIGURE failover drill: primary stopped to the first write on st-db2: %.1f s (playbook %.1f s), "
          "to 5 writes there: %.1f s (each waits 3 s for the stopped host first); "
          "%d acknowledged rows, %d missing after the promotion (asynchronous replication)" %
          (first_write_seconds, playbook_seconds, writes_seconds, len(acked), len(acked - present)))
    assert first_write_seconds < 30 and writes_seconds < 90

    # The health check reflects it: st-db1 is down, st-db2 is the primary
    # and misses its only replica; nothing else is red.
    out = tmp_path / "health.json"
    playbook("aiplatform.infra.healthcheck", postgresql_primary_host="st-db2", health_check_json_path=str(out))
    report = json.loads(out.read_text())
    pg = [check for check in report["hosts"]["st-db2"]["checks"] if check["type"] == "postgres"]
    assert pg and pg[0]["value"]["role"] == "primary", pg
    assert pg[0]["status"] == "fail" and "0 replica(s) connected, 1 expected" in pg[0]["reason"], pg
    assert report["hosts"]["st-db1"]["status"] == "fail"
    failing = {(row["host"], row["type"]) for row in report["rows"] if row["status"] == "fail"}
    assert {entry for entry in failing if entry[0] != "st-db1"} == {("st-db2", "postgres")}, report["rows"]
