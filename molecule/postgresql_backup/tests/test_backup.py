"""Backups of a real PostgreSQL 15 primary to a real S3 HTTP endpoint (moto).

The modules run through Ansible on bk-db as the postgres OS user; the
scheduled backup runs as its systemd service. Each test uses its own prefix
in the bucket, so that the tests do not see each other's backups.
"""

import json
import os
import subprocess
import time

import pytest
import yaml
from scenario_runs import host, quote
from testinfra.modules.ansible import AnsibleException

DB = "bk-db"
PG_BIN = "/usr/lib/postgresql/15/bin"
METRICS = "/var/lib/prometheus/node-exporter/aiplatform_pg_backup.prom"
PASSPHRASE = "lab-backup-passphrase"
MARKER = "Zoë Łukasz 日本語 🐘"
RUN = time.strftime("%H%M%S")  # in every test prefix: a second verify run starts clean
SEED = """
DROP TABLE IF EXISTS orders, customers, docs, billing.invoices, events, physical_marker;
DROP SCHEMA IF EXISTS billing;
DROP TYPE IF EXISTS mood;
SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
ALTER TABLE customers ADD COLUMN source regclass DEFAULT 'customers';
INSERT INTO customers (name) VALUES ('%(marker)s'), ('Ørsted'), ('Ñandú'), ('Müller'), ('plain');
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, amount numeric(12,2),
                     note text, created timestamptz);
INSERT INTO orders (customer_id, amount, note, created)
  SELECT 1 + g %% 5, g / 7.0, 'note ' || md5(g::text) || ' é', '2026-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 20000) g;
CREATE TABLE docs (id int PRIMARY KEY, body jsonb, blob oid);
INSERT INTO docs SELECT g, jsonb_build_object('title', 'Dokument ' || g || ' – ü'),
  lo_from_bytea(0, convert_to(repeat('ünïcödé large object ' || g || ' ', 2000), 'UTF8'))
  FROM generate_series(1, 3) g;
CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int, total numeric, data bytea);
INSERT INTO billing.invoices SELECT g, g * 1.5, decode(md5(g::text), 'hex') FROM generate_series(1, 500) g;
CREATE TYPE mood AS ENUM ('calm', 'Ünruhig');
CREATE TABLE events (id int PRIMARY KEY, moods mood[], doubled int GENERATED ALWAYS AS (id * 2) STORED,
                     span interval, ratio float8, at timestamptz);
INSERT INTO events (id, moods, span, ratio, at)
  SELECT g, ARRAY['calm', 'Ünruhig']::mood[], g * interval '1 day 2 min', g / 3.0::float8,
         '2026-01-01 12:00+05'::timestamptz + g * interval '1 second' FROM generate_series(1, 3000) g;
""" % dict(marker=MARKER)
FINGERPRINT = """
SELECT 'public.customers', count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM customers t
UNION ALL SELECT 'public.orders', count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM orders t
UNION ALL SELECT 'public.docs', count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM docs t
UNION ALL SELECT 'billing.invoices', count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM billing.invoices t
UNION ALL SELECT 'public.events', count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM events t
UNION ALL SELECT 'large objects', count(*), md5(string_agg(md5(lo_get(oid)), ',' ORDER BY oid))
  FROM pg_largeobject_metadata
"""


def sql(query, db="appdb", port=5432):
    return host(DB).check_output("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -p %d -d %s -c %s"
                                 % (port, db, quote(query)))


@pytest.fixture(scope="module")
def creds():
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "s3.yml")) as handle:
        found = yaml.safe_load(handle)
    return dict(access_key=found["postgresql_backup_s3_access_key"],
                secret_key=found["postgresql_backup_s3_secret_key"])


@pytest.fixture(scope="module")
def seeded():
    host(DB).check_output("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d appdb -c %s" % quote(SEED))
    for name in ("appdb_copy", "appdb_playbook"):
        sql("DROP DATABASE IF EXISTS %s" % name, db="postgres")
    return sql(FINGERPRINT)


S3_CLIENT = ("import boto3, sys; s = boto3.client('s3', endpoint_url='http://172.30.81.10:9000', "
             "region_name='us-east-1', aws_access_key_id=sys.argv[1], aws_secret_access_key=sys.argv[2]); ")


def s3_python(creds, body, *args):
    """Runs python3 on bk-db with boto3 client s and the arguments as sys.argv[3:]."""
    return host(DB).check_output("python3 -c %s %s %s %s" % (quote(S3_CLIENT + body), creds["access_key"],
                                                             creds["secret_key"], " ".join(quote(a) for a in args)))


def module(name, creds, check=False, **args):
    """Runs an aiplatform.infra module on bk-db as postgres; returns its result, failed or not.

    The result comes from ansible --tree, which leaves out "failed": these
    modules return msg only when they fail, so that stands for it.
    """
    args = dict(dict(dict(bucket="aip-backups", endpoint_url="http://172.30.81.10:9000"), **creds), **args)
    try:
        result = host(DB).ansible("aiplatform.infra." + name, json.dumps(args), check=check, become=True,
                                  become_user="postgres")
    except AnsibleException as exc:
        result = exc.result
    result.setdefault("failed", "msg" in result)
    return result


def _metrics(db):
    """The scheduled backup's metrics, as read through node_exporter's textfile directory."""
    if not db.file(METRICS).exists:
        return {}
    found = {}
    for line in db.check_output("cat %s" % METRICS).splitlines():
        if line.startswith("aiplatform_pg_backup_"):
            name, value = line.split(" ")
            found[name[len("aiplatform_pg_backup_"):].split("{")[0]] = float(value)
    return found


def test_scheduled_backup_runs_keeps_two_and_publishes_metrics(seeded, creds):
    db = host(DB)
    with db.sudo():
        before = _metrics(db)
        for _run in range(3):
            db.check_output("systemctl start aiplatform-pg-backup.service")
        after = _metrics(db)
    assert after["last_run_success"] == 1
    assert after["runs_total"] - before.get("runs_total", 0) == 3
    assert after["failures_total"] == before.get("failures_total", 0) == 0
    assert after["expired_total"] - before.get("expired_total", 0) >= 1
    assert after["last_success_timestamp_seconds"] > time.time() - 600
    info = module("pg_backup_info", creds, prefix="postgresql")
    assert [b["status"] for b in info["backups"]] == ["complete", "complete"]
    assert set(info["latest"]["databases"]) >= {"appdb", "postgres"}
    assert info["uploads_in_progress"] == [] and info["incomplete"] == []
    manifest = module("pg_backup_info", creds, prefix="postgresql", backup_id="latest")["manifest"]
    assert sorted(o["name"] for o in manifest["objects"])[-1] == "globals.sql.zst.aes"
    assert manifest["server_version"].startswith("15.") and manifest["start_lsn"] and manifest["end_lsn"]
    assert all(len(o["sha256"]) == 64 for o in manifest["objects"])
    assert db.service("aiplatform-pg-backup.timer").is_enabled


def _stored_bytes_contain(prefix, creds, text):
    """Whether any stored object under prefix contains text."""
    return s3_python(creds, "keys = [o['Key'] for o in s.list_objects_v2(Bucket='aip-backups', Prefix=sys.argv[3])"
                            "['Contents']]; print(any(sys.argv[4].encode() in s.get_object(Bucket='aip-backups', "
                            "Key=k)['Body'].read() for k in keys))", prefix, text) == "True"


def test_logical_backup_restores_row_for_row_and_the_bucket_sees_no_plaintext(seeded, creds):
    taken = module("pg_backup", creds, prefix="t-logical-" + RUN, databases=["appdb"], compression="none",
                   encryption_passphrase=PASSPHRASE)
    assert taken["changed"] and not taken.get("failed"), taken.get("msg")
    assert not _stored_bytes_contain("t-logical-" + RUN, creds, "Łukasz")
    plain = module("pg_backup", creds, prefix="t-plain-" + RUN, databases=["appdb"], compression="none")
    assert not plain.get("failed"), plain.get("msg")
    assert _stored_bytes_contain("t-plain-" + RUN, creds, "Łukasz")  # the control: unencrypted, it would show
    restored = module("pg_restore", creds, prefix="t-logical-" + RUN, database="appdb", target_database="appdb_copy",
                      encryption_passphrase=PASSPHRASE, jobs=2, count_rows=True)
    assert not restored.get("failed"), restored.get("msg")
    assert restored["backup_id"] == taken["backup_id"] and restored["replaced"] is False
    assert restored["row_counts"]["public.orders"] == 20000
    assert sql(FINGERPRINT, db="appdb_copy") == seeded
    assert sql("SELECT name FROM customers WHERE id = 1", db="appdb_copy") == MARKER


def test_tables_read_in_block_ranges_on_one_snapshot_restore_row_for_row(seeded, creds):
    # split_min_mb=0: every table in parts, binary where its columns are built-in types, text where not
    # (events: an array of an enum). Large objects stay in pg_dump's archive.
    taken = module("pg_backup", creds, prefix="t-split-" + RUN, databases=["appdb"], jobs=3, split_min_mb=0,
                   encryption_passphrase=PASSPHRASE)
    assert not taken.get("failed"), taken.get("msg")
    parts = {}
    for entry in taken["manifest"]["objects"]:
        if entry.get("table"):
            parts.setdefault(entry["table"], []).append((entry["part"], entry["copy_format"]))
    assert sorted(parts["public.orders"]) == [(1, "binary"), (2, "binary"), (3, "binary")]
    assert {fmt for _part, fmt in parts["public.events"]} == {"text"}
    # customers names a table by OID (regclass): text, where binary would carry the OID over.
    assert parts["public.customers"] == [(1, "text")] and parts["billing.invoices"][0][1] == "binary"
    assert "public.docs" in parts and taken["manifest"]["format"] == 2
    sql("DROP DATABASE IF EXISTS appdb_split", db="postgres")
    restored = module("pg_restore", creds, prefix="t-split-" + RUN, database="appdb", target_database="appdb_split",
                      encryption_passphrase=PASSPHRASE, jobs=3, count_rows=True)
    assert not restored.get("failed"), restored.get("msg")
    assert restored["row_counts"]["public.orders"] == 20000 and restored["row_counts"]["public.events"] == 3000
    assert sql(FINGERPRINT, db="appdb_split") == seeded
    # The indexes and constraints came after the rows: the foreign key holds and is enforced.
    assert sql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'f'",
               db="appdb_split") == "1"
    refused = host(DB).run("runuser -u postgres -- psql -XAtq -d appdb_split -c %s"
                           % quote("INSERT INTO orders (customer_id) VALUES (99)"))
    assert refused.rc != 0 and "violates foreign key constraint" in refused.stderr
    sql("DROP DATABASE appdb_split", db="postgres")


PAIRS = """
DO $$
DECLARE stop timestamptz := clock_timestamp() + interval '15 seconds';
BEGIN
  WHILE clock_timestamp() < stop LOOP
    INSERT INTO pair_a SELECT count(*) FROM pair_a;
    INSERT INTO pair_b SELECT count(*) FROM pair_b;
    COMMIT;
  END LOOP;
END $$
"""


def test_the_parts_and_the_dump_see_one_snapshot_while_writes_go_on(seeded, creds):
    # Two tables that every transaction writes together, each read by its own session:
    # only on one snapshot do their restored counts agree.
    sql("DROP TABLE IF EXISTS pair_a, pair_b; CREATE TABLE pair_a (n int); CREATE TABLE pair_b (n int)")
    host(DB).check_output("nohup runuser -u postgres -- psql -XAtq -d appdb -c %s >/dev/null 2>&1 &" % quote(PAIRS))
    time.sleep(2)
    taken = module("pg_backup", creds, prefix="t-pairs-" + RUN, databases=["appdb"], jobs=2, split_min_mb=0)
    assert not taken.get("failed"), taken.get("msg")
    sql("DROP DATABASE IF EXISTS appdb_pairs", db="postgres")
    restored = module("pg_restore", creds, prefix="t-pairs-" + RUN, database="appdb", target_database="appdb_pairs",
                      count_rows=True)
    assert not restored.get("failed"), restored.get("msg")
    counts = restored["row_counts"]
    assert counts["public.pair_a"] == counts["public.pair_b"] > 0, counts
    time.sleep(1)
    assert int(sql("SELECT count(*) FROM pair_a")) > counts["public.pair_a"]  # the writes went on past the snapshot
    sql("DROP DATABASE appdb_pairs", db="postgres")
    sql("DROP TABLE pair_a, pair_b")


def test_an_existing_database_is_replaced_only_when_asked(seeded, creds):
    refused = module("pg_restore", creds, prefix="t-logical-" + RUN, database="appdb", target_database="appdb_copy",
                     encryption_passphrase=PASSPHRASE)
    assert refused["failed"] and "database 'appdb_copy' exists: set replace=true" in refused["msg"]
    sql("DELETE FROM orders WHERE id > 10", db="appdb_copy")
    replaced = module("pg_restore", creds, prefix="t-logical-" + RUN, database="appdb", target_database="appdb_copy",
                      encryption_passphrase=PASSPHRASE, replace=True)
    assert not replaced.get("failed"), replaced.get("msg")
    assert replaced["replaced"] is True
    assert sql(FINGERPRINT, db="appdb_copy") == seeded


def test_globals_are_restored_only_when_asked(seeded, creds):
    probe = "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'bk_globals_probe'"
    sql("DROP DATABASE IF EXISTS appdb_globals", db="postgres")
    sql("DROP ROLE IF EXISTS bk_globals_probe", db="postgres")
    sql("CREATE ROLE bk_globals_probe LOGIN CONNECTION LIMIT 7", db="postgres")
    taken = module("pg_backup", creds, prefix="t-globals-" + RUN, databases=["appdb"], globals=True)
    assert not taken.get("failed"), taken.get("msg")
    sql("DROP ROLE bk_globals_probe", db="postgres")
    args = dict(prefix="t-globals-" + RUN, database="appdb", target_database="appdb_globals")
    plain = module("pg_restore", creds, **args)
    assert not plain.get("failed"), plain.get("msg")
    assert "globals_existing" not in plain and sql(probe, db="postgres") == ""
    restored = module("pg_restore", creds, replace=True, restore_globals=True, **args)
    assert not restored.get("failed"), restored.get("msg")
    assert sql(probe, db="postgres") == "7"
    assert restored["globals_existing"] >= 1  # the postgres role, whose CREATE ROLE fails and is skipped
    assert sql(FINGERPRINT, db="appdb_globals") == seeded
    without = module("pg_restore", creds, prefix="t-logical-" + RUN, database="appdb", target_database="appdb_globals",
                     replace=True, restore_globals=True, encryption_passphrase=PASSPHRASE)
    assert without["failed"] and "holds no globals" in without["msg"]
    sql("DROP DATABASE appdb_globals", db="postgres")
    sql("DROP ROLE bk_globals_probe", db="postgres")


def test_a_tampered_object_makes_restore_refuse(seeded, creds):
    taken = module("pg_backup", creds, prefix="t-tamper-" + RUN, databases=["appdb"])
    key = "t-tamper-%s/%s/db-appdb.dump.zst" % (RUN, taken["backup_id"])
    s3_python(creds, "b = bytearray(s.get_object(Bucket='aip-backups', Key=sys.argv[3])['Body'].read()); "
                     "b[len(b) // 2] ^= 1; s.put_object(Bucket='aip-backups', Key=sys.argv[3], Body=bytes(b))", key)
    refused = module("pg_restore", creds, prefix="t-tamper-" + RUN, database="appdb", target_database="tampered")
    assert refused["failed"] and "checksum mismatch for db-appdb.dump.zst" in refused["msg"]
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'tampered%'", db="postgres") == "0"


@pytest.mark.parametrize("change, cause", [
    (dict(secret_key="wrong-secret-value"), "the secret key does not match the access key: check secret_key"),
    (dict(access_key="AKIAWRONGWRONGWRONG"), "the access key is not known to the endpoint: check access_key"),
    (dict(bucket="no-such-bucket"), "no such bucket 'no-such-bucket'"),
])
@pytest.mark.parametrize("name", ["pg_backup", "pg_backup_info", "pg_restore"])
def test_wrong_credentials_and_a_missing_bucket_fail_clearly_without_secrets(creds, name, change, cause):
    result = module(name, dict(creds, **change), check=False, prefix="t-logical-" + RUN,
                    encryption_passphrase=PASSPHRASE, **(dict(databases=["appdb"]) if name == "pg_backup" else {}))
    assert result["failed"] and cause in result["msg"]
    output = json.dumps(result)
    for secret in (creds["secret_key"], "wrong-secret-value", PASSPHRASE):
        assert secret not in output


def test_a_backup_killed_midway_leaves_nothing_complete_and_no_open_upload(creds):
    db = host(DB)
    with db.sudo():
        db.check_output("runuser -u postgres -- psql -XAtq -c 'DROP DATABASE IF EXISTS killdb' -c 'CREATE DATABASE killdb'")
        db.check_output("runuser -u postgres -- psql -XAtq -d killdb -c %s" % quote(
            "CREATE TABLE bulk AS SELECT g, md5(random()::text) || md5(g::text) AS v FROM generate_series(1, 200000) g"))
        # pg_dump as it is, then a pause with its output still open: a backup midway, every time.
        _held_pg_dump(db)
        db.check_output("install -d -o postgres /tmp/kill-state")
        config = dict(bucket="aip-backups", endpoint_url="http://172.30.81.10:9000", prefix="t-kill-" + RUN,
                      databases=["killdb"], compression="none", part_size_mb=5, bin_dir="/tmp/slowbin", **creds)
        db.check_output("rm -rf /tmp/kill.json /tmp/kill-state/* && printf '%%s' %s > /tmp/kill.json "
                        "&& chown postgres /tmp/kill.json" % quote(json.dumps(config)))
        db.check_output("systemd-run --unit bk-kill -p User=postgres /usr/local/sbin/aiplatform-pg-backup "
                        "--config /tmp/kill.json --state-dir /tmp/kill-state")
        for _attempt in range(60):
            if module("pg_backup_info", creds, prefix="t-kill-" + RUN)["uploads_in_progress"]:
                break
            time.sleep(1)
        else:
            pytest.fail("the backup never opened its multipart upload")
        db.check_output("systemctl stop bk-kill")
        log = db.check_output("journalctl -u bk-kill --no-pager")
        state = json.loads(db.check_output("cat /tmp/kill-state/state.json"))
        db.run("systemctl reset-failed bk-kill")
    info = module("pg_backup_info", creds, prefix="t-kill-" + RUN)
    assert info["uploads_in_progress"] == []
    assert info["latest"] is None and [b for b in info["backups"] if b["status"] == "complete"] == []
    assert "stopped by signal 15" in log
    assert state["last_run_success"] is False and state["failures_total"] == 1


HELD = "/tmp/slowbin/release"


def _held_pg_dump(db):
    """A pg_dump in /tmp/slowbin that keeps its output open after the dump until HELD exists (5 min at most).

    A backup that lasts until the test lets it end, however slow the machine.
    """
    wrapper = ('#!/bin/sh\n[ "$1" = --version ] && exec {bin}/pg_dump --version\n{bin}/pg_dump "$@"\n'
               'for _ in $(seq 1500); do [ -e {held} ] && exit 0; sleep 0.2; done\n').format(bin=PG_BIN, held=HELD)
    db.check_output("install -d -o postgres /tmp/slowbin && rm -f %s && printf '%%s' %s > /tmp/slowbin/pg_dump "
                    "&& chmod 755 /tmp/slowbin/pg_dump" % (HELD, quote(wrapper)))


def test_two_backups_on_one_prefix_both_complete_and_retention_spares_the_running_one(creds):
    """A timer run still uploading while an ad-hoc run with retention completes: neither touches the other.

    moto dates every open upload 2010, so before leases retention took the
    running backup's upload for a stale one and aborted it (and deleted its
    objects, as an incomplete backup older than the newest complete one).
    """
    db = host(DB)
    prefix = "t-overlap-" + RUN
    with db.sudo():
        db.run("systemctl stop bk-overlap; systemctl reset-failed bk-overlap")  # a run of an earlier verify
        db.check_output("runuser -u postgres -- psql -XAtq -c 'DROP DATABASE IF EXISTS overlapdb' "
                        "-c 'CREATE DATABASE overlapdb'")
        db.check_output("runuser -u postgres -- psql -XAtq -d overlapdb -c %s" % quote(
            "CREATE TABLE bulk AS SELECT g, md5(random()::text) || md5(g::text) AS v FROM generate_series(1, 200000) g"))
        _held_pg_dump(db)
        config = dict(bucket="aip-backups", endpoint_url="http://172.30.81.10:9000", prefix=prefix,
                      databases=["overlapdb"], compression="none", part_size_mb=5, bin_dir="/tmp/slowbin", **creds)
        db.check_output("install -d -o postgres /tmp/overlap-state && rm -rf /tmp/overlap-state/* /tmp/overlap.json "
                        "&& printf '%%s' %s > /tmp/overlap.json && chown postgres /tmp/overlap.json"
                        % quote(json.dumps(config)))
        db.check_output("systemd-run --unit bk-overlap -p User=postgres /usr/local/sbin/aiplatform-pg-backup "
                        "--config /tmp/overlap.json --state-dir /tmp/overlap-state")
    for _attempt in range(60):
        if module("pg_backup_info", creds, prefix=prefix)["uploads_in_progress"]:
            break
        time.sleep(1)
    else:
        pytest.fail("the first backup never opened its multipart upload")
    during = module("pg_backup_info", creds, prefix=prefix)
    assert [(b["status"], b["running"]) for b in during["backups"]] == [("incomplete", True)]
    second = module("pg_backup", creds, prefix=prefix, databases=["overlapdb"],
                    retention=dict(keep_last=1, stale_upload_hours=0))
    assert not second.get("failed"), second.get("msg")
    assert second["expired"] == [] and second["aborted_uploads"] == []
    assert module("pg_backup_info", creds, prefix=prefix)["uploads_in_progress"], "the running upload was aborted"
    with db.sudo():
        db.check_output("touch " + HELD)  # the first backup may end now
        for _attempt in range(90):
            if db.run("systemctl is-active bk-overlap").stdout.strip() not in ("active", "activating"):
                break
            time.sleep(1)
        state = json.loads(db.check_output("cat /tmp/overlap-state/state.json"))
        db.run("systemctl reset-failed bk-overlap")
    assert state["last_run_success"] is True, state.get("last_error")
    after = module("pg_backup_info", creds, prefix=prefix)
    assert sorted(b["id"] for b in after["backups"]) == sorted([state["last_backup_id"], second["backup_id"]])
    assert [b["status"] for b in after["backups"]] == ["complete", "complete"]
    assert after["uploads_in_progress"] == [] and after["incomplete"] == []


BLACKHOLE = "172.30.81.10"


@pytest.fixture
def blackholed():
    """bk-db's packets to ports 9009 (an S3 endpoint) and 5432 of bk-s3 dropped: connections hang, never refused."""
    db = host(DB)
    rules = ["OUTPUT -p tcp -d %s --dport %d -j DROP" % (BLACKHOLE, port) for port in (9009, 5432)]
    with db.sudo():
        for rule in rules:
            db.check_output("/usr/sbin/iptables -I " + rule)
    yield
    with db.sudo():
        for rule in rules:
            db.run("/usr/sbin/iptables -D " + rule)


@pytest.mark.parametrize("name, args", [
    ("pg_restore", dict(database="appdb", target_database="never")),
    ("pg_backup", dict(databases=["appdb"])),
    ("pg_backup_info", {}),
])
def test_a_blackholed_s3_endpoint_fails_within_its_bound_naming_it(creds, blackholed, name, args):
    # The bound: 3 attempts of s3_connect_timeout, plus at most 3 s of backoff.
    started = time.monotonic()
    result = module(name, creds, endpoint_url="http://%s:9009" % BLACKHOLE, s3_connect_timeout=2, **args)
    took = time.monotonic() - started
    assert result["failed"] and result["msg"].startswith(
        "the S3 endpoint http://%s:9009 accepted no connection within s3_connect_timeout=2 s, 3 attempts" % BLACKHOLE)
    assert took < 3 * 2 + 3 + 15, "took %.1f s (the module's start included)" % took


def test_a_blackholed_postgresql_server_fails_within_connect_timeout(creds, blackholed):
    started = time.monotonic()
    result = module("pg_backup", creds, check=True, login_host=BLACKHOLE, connect_timeout=2, databases=["appdb"])
    took = time.monotonic() - started
    assert result["failed"] and "PostgreSQL at %s:5432 does not accept the connection as postgres " \
        "(connect_timeout=2 s)" % BLACKHOLE in result["msg"], result["msg"]
    assert took < 2 + 15, "took %.1f s (the module's start included)" % took


def test_an_incomplete_backup_is_reported_and_not_restored(creds):
    taken = module("pg_backup", creds, prefix="t-incomplete-" + RUN, databases=["appdb"])
    s3_python(creds, "s.delete_object(Bucket='aip-backups', Key=sys.argv[3])",
              "t-incomplete-%s/%s/manifest.json" % (RUN, taken["backup_id"]))
    info = module("pg_backup_info", creds, prefix="t-incomplete-" + RUN)
    assert info["incomplete"] == [taken["backup_id"]] and info["latest"] is None
    refused = module("pg_restore", creds, prefix="t-incomplete-" + RUN, backup_id=taken["backup_id"], target_database="x")
    assert refused["failed"] and "is incomplete (no manifest)" in refused["msg"]


def test_check_mode_shows_what_retention_would_delete(seeded, creds):
    before = module("pg_backup_info", creds, prefix="postgresql")["backups"]
    preview = module("pg_backup", creds, check=True, prefix="postgresql", encryption_passphrase=PASSPHRASE,
                     retention=dict(keep_last=2))
    assert preview["changed"] and preview["expired"] == [before[0]["id"]]
    assert [b["id"] for b in module("pg_backup_info", creds, prefix="postgresql")["backups"]] == [
        b["id"] for b in before]


def test_physical_backup_restores_into_a_fresh_cluster_that_starts(seeded, creds):
    db = host(DB)
    sql("CREATE TABLE IF NOT EXISTS physical_marker (v text); INSERT INTO physical_marker VALUES ('física ✓')")
    taken = module("pg_backup", creds, kind="physical", prefix="t-physical-" + RUN, encryption_passphrase=PASSPHRASE)
    assert not taken.get("failed"), taken.get("msg")
    assert taken["manifest"]["start_lsn"] and taken["manifest"]["end_lsn"]
    with db.sudo():
        db.run("pg_dropcluster --stop 15 restore")
        db.check_output("pg_createcluster 15 restore -p 5433 >/dev/null")
        db.check_output("pg_ctlcluster 15 restore start")
    running = module("pg_restore", creds, prefix="t-physical-" + RUN, data_directory="/var/lib/postgresql/15/restore",
                     replace=True, encryption_passphrase=PASSPHRASE)
    assert running["failed"] and "is running" in running["msg"]
    with db.sudo():
        db.check_output("pg_ctlcluster 15 restore stop")
    restored = module("pg_restore", creds, prefix="t-physical-" + RUN, data_directory="/var/lib/postgresql/15/restore",
                      replace=True, encryption_passphrase=PASSPHRASE)
    assert not restored.get("failed"), restored.get("msg")
    with db.sudo():
        db.check_output("pg_ctlcluster 15 restore start")
        try:
            assert sql("SELECT v FROM physical_marker", port=5433) == "física ✓"
            assert sql(FINGERPRINT, port=5433) == seeded
        finally:
            db.run("pg_dropcluster --stop 15 restore")


def _playbook(creds, *extra):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    s3 = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "s3.yml")
    return subprocess.run(["ansible-playbook", "-i", inventory, "-e", "@" + s3, "-e", "restore_host=bk-db",
                           "-e", "restore_database=appdb", "aiplatform.infra.restore"] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)


def test_restore_playbook_drill_compares_row_counts_and_drops_the_scratch_database(seeded, creds):
    with host(DB).sudo():
        host(DB).check_output("systemctl start aiplatform-pg-backup.service")
    drill = _playbook(creds, "-e", "restore_drill=true")
    assert drill.returncode == 0, drill.stdout[-3000:]
    assert "Drill passed" in drill.stdout and "row counts equal" in drill.stdout
    # A row that the backup does not have: the drill must see the difference.
    sql("INSERT INTO billing.invoices VALUES (0, 0, NULL)")
    try:
        broken = _playbook(creds, "-e", "restore_drill=true")
    finally:
        sql("DELETE FROM billing.invoices WHERE id = 0")
    assert broken.returncode != 0 and "Row counts differ" in broken.stdout
    assert sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'appdb_drill_%'", db="postgres") == "0"


def test_restore_playbook_refuses_to_overwrite_without_confirmation(seeded, creds):
    refused = _playbook(creds)
    assert refused.returncode != 0
    assert "database 'appdb' exists" in refused.stdout and "-e restore_confirm_overwrite=true" in refused.stdout
    copied = _playbook(creds, "-e", "restore_target_database=appdb_playbook")
    assert copied.returncode == 0, copied.stdout[-3000:]
    assert "into appdb_playbook on bk-db" in copied.stdout
    assert sql(FINGERPRINT, db="appdb_playbook") == seeded
