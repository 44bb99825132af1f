"""The PostgreSQL role across a primary, two replicas and two client hosts.

Clients act from their own hosts over the scenario's network; the database
hosts are queried as the postgres OS user over the local socket.
"""

import json
import pathlib
import time

import pytest
import yaml
from cluster import ADDRESS, APP_DSN, CA, LOG, health_check
from scenario_runs import host, quote, sql

PRIMARY, REPLICAS = "pg-1", ("pg-2", "pg-3")


@pytest.fixture(scope="module")
def app():
    """The app host, with the cluster's CA to check the servers against."""
    app = host("pg-app")
    ca = host(PRIMARY).check_output("cat %s" % CA)
    app.check_output("printf '%%s\\n' %s > /tmp/ca.crt" % quote(ca))
    return app


def app_psql(app, target, query, sslmode="verify-full"):
    return app.run("psql -XAtq %s -c %s" % (quote(APP_DSN % (ADDRESS[target], sslmode)), quote(query)))


def test_rows_written_on_the_primary_reach_both_replicas(app):
    marker = "row-%d" % time.time_ns()
    result = app_psql(app, PRIMARY, "CREATE TABLE IF NOT EXISTS t (v text); INSERT INTO t VALUES ('%s')" % marker)
    assert result.rc == 0, result.stderr
    for replica in REPLICAS:
        for _attempt in range(30):
            if sql(replica, "SELECT count(*) FROM t WHERE v = '%s'" % marker, db="appdb") == "1":
                break
            time.sleep(1)
        else:
            pytest.fail("%s did not replay the row" % replica)


def test_both_replicas_stream_over_tls_into_their_slots():
    rows = sql(PRIMARY, """
        SELECT r.application_name, r.state, s.ssl, r.client_addr, sl.slot_name, sl.active
        FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
        JOIN pg_replication_slots sl ON sl.active_pid = r.pid ORDER BY 1""").splitlines()
    assert rows == [
        "pg_2|streaming|t|172.30.79.22|pg_2|t",
        "pg_3|streaming|t|172.30.79.23|pg_3|t",
    ]


def test_replicas_check_the_primary_certificate_by_its_address():
    for replica in REPLICAS:
        conninfo = sql(replica, "SELECT conninfo FROM pg_stat_wal_receiver")
        assert "sslmode=verify-full" in conninfo
        assert "host=172.30.79.21" in conninfo


def test_quorum_commit_is_configured():
    assert sql(PRIMARY, "SHOW synchronous_standby_names") == "ANY 1 (pg_2, pg_3)"
    assert sorted(sql(PRIMARY, "SELECT sync_state FROM pg_stat_replication").split()) == ["quorum", "quorum"]


def test_a_replica_refuses_writes():
    result = host("pg-2").run("runuser -u postgres -- psql -XAtq -d appdb -c 'CREATE TABLE refused (v int)'")
    assert result.rc != 0
    assert "read-only transaction" in result.stderr


def test_the_app_host_connects_only_over_tls(app):
    assert app_psql(app, PRIMARY, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").stdout.strip() == "t"
    plain = app_psql(app, PRIMARY, "SELECT 1", sslmode="disable")
    assert plain.rc != 0
    assert "no pg_hba.conf entry" in plain.stderr and "no encryption" in plain.stderr


def test_the_app_host_reaches_only_its_database(app):
    other_db = app.run("psql -XAtq %s -c 'SELECT 1'" % quote(
        (APP_DSN % (ADDRESS[PRIMARY], "verify-full")).replace("dbname=appdb", "dbname=postgres")))
    assert other_db.rc != 0
    assert "no pg_hba.conf entry" in other_db.stderr


def test_another_app_role_is_refused_on_the_app_database_though_pg_hba_lets_it_in(app):
    """pg_hba lets app2 reach appdb (the scenario's second rule); appdb's
    CONNECT privilege, which PUBLIC lost, refuses it after authentication."""
    app2_dsn = APP_DSN.replace("user=app password=lab-app-secret", "user=app2 password=lab-app2-secret")
    own = app.run("psql -XAtq %s -c 'SELECT current_user'" % quote(
        (app2_dsn % (ADDRESS[PRIMARY], "verify-full")).replace("dbname=appdb", "dbname=app2db")))
    assert own.rc == 0 and own.stdout.strip() == "app2", own.stderr
    refused = app.run("psql -XAtq %s -c 'SELECT 1'" % quote(app2_dsn % (ADDRESS[PRIMARY], "verify-full")))
    assert refused.rc != 0
    assert 'permission denied for database "appdb"' in refused.stderr, refused.stderr
    assert "User does not have CONNECT privilege." in refused.stderr


def test_pgvector_finds_the_nearest_row_through_an_hnsw_index(app):
    """The app, as its own role over verify-full TLS, uses the vector extension
    the role created in its database; a replica answers the same query."""
    assert sql(PRIMARY, "SELECT extname FROM pg_extension WHERE extname = 'vector'", db="appdb") == "vector"
    result = app_psql(app, PRIMARY, """
        DROP TABLE IF EXISTS items;
        CREATE TABLE items (id int PRIMARY KEY, embedding vector(3));
        CREATE INDEX items_embedding ON items USING hnsw (embedding vector_l2_ops);
        INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[5,5,5]'), (5, '[0.9,1.2,0]');""")
    assert result.rc == 0, result.stderr
    nearest = "SELECT id FROM items ORDER BY embedding <-> '[0.1,0.95,0.05]' LIMIT 1"
    plan = app_psql(app, PRIMARY, "SET enable_seqscan = off; EXPLAIN (COSTS OFF) " + nearest)
    assert "Index Scan using items_embedding on items" in plan.stdout, plan.stdout + plan.stderr
    found = app_psql(app, PRIMARY, "SET enable_seqscan = off; " + nearest)
    assert found.stdout.strip() == "2", found.stdout + found.stderr
    for replica in REPLICAS:
        for _attempt in range(30):
            if sql(replica, "SELECT count(*) FROM pg_class WHERE relname = 'items_embedding'", db="appdb") == "1":
                break
            time.sleep(1)
        assert sql(replica, "SET enable_seqscan = off; " + nearest, db="appdb") == "2"


def test_the_role_knows_every_contrib_extension_it_names():
    """The role's list of the extensions the server package ships, against
    what PostgreSQL 17 offers."""
    role_vars = pathlib.Path(__file__).parents[3] / "roles/postgresql/vars/main.yml"
    contrib = yaml.safe_load(role_vars.read_text())["_postgresql_contrib_extensions"]
    available = sql(PRIMARY, "SELECT name FROM pg_available_extensions").split()
    assert sorted(set(contrib) - set(available)) == []


def test_a_host_pg_hba_does_not_list_cannot_connect():
    other = host("pg-other")
    other.check_output("printf '%%s\\n' %s > /tmp/ca.crt" % quote(host(PRIMARY).check_output("cat %s" % CA)))
    result = other.run("psql -XAtq %s -c 'SELECT 1'" % quote(APP_DSN % (ADDRESS[PRIMARY], "verify-full")))
    assert result.rc != 0
    assert 'no pg_hba.conf entry for host "172.30.79.12"' in result.stderr


def test_pg_hba_has_only_hostssl_and_local_peer_lines():
    rules = sql(PRIMARY, "SELECT type, auth_method, coalesce(address, '') FROM pg_hba_file_rules").splitlines()
    assert {r.split("|")[0] for r in rules} == {"local", "hostssl"}
    assert {r.split("|")[1] for r in rules} == {"peer", "scram-sha-256"}
    assert not [r for r in rules if r.endswith("|0.0.0.0") or r.endswith("|::")]


def test_passwords_are_scram_and_public_has_no_grant_on_the_app_database():
    assert sql(PRIMARY, "SELECT rolpassword ~ '^SCRAM-SHA-256\\$' FROM pg_authid WHERE rolname = 'app'") == "t"
    acl = sql(PRIMARY, "SELECT array_to_string(datacl, ' ') FROM pg_database WHERE datname = 'appdb'")
    assert [item for item in acl.split() if item.startswith("=")] == []
    assert sql(PRIMARY, "SELECT has_schema_privilege('public', 'public', 'CREATE')", db="appdb") == "f"
    assert sql(PRIMARY, "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'", db="appdb") == "pgcrypto"


def test_the_monitoring_role_has_pg_monitor_over_peer():
    db = host(PRIMARY)
    assert db.check_output(
        "runuser -u prometheus -- psql -XAtq -U aip_monitor -d postgres -c "
        "\"SELECT pg_has_role('pg_monitor', 'MEMBER')\"") == "t"


def test_log_lines_carry_time_user_database_and_client(app):
    app_psql(app, PRIMARY, "SELECT pg_sleep(1.1)")
    log = host(PRIMARY).check_output("cat %s" % LOG)
    assert "user=app,db=appdb,client=172.30.79.11" in log
    assert "connection authorized: user=app database=appdb" in log
    assert "disconnection:" in log
    assert "duration:" in log and "pg_sleep(1.1)" in log


def test_settings_are_derived_overridable_and_nothing_waits_for_a_restart():
    mem_kb = int(host(PRIMARY).check_output("awk '/MemTotal/ {print $2}' /proc/meminfo"))
    cache_mb = int(sql(PRIMARY, "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'effective_cache_size'"))
    assert abs(cache_mb - mem_kb // 1024 * 3 // 4) <= 1
    assert sql(PRIMARY, "SHOW shared_buffers") == "256MB"  # postgresql_settings beats the derived 1/4
    for name in (PRIMARY,) + REPLICAS:
        assert sql(name, "SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"
    assert sql(PRIMARY, "SHOW max_slot_wal_keep_size") == "64MB"


def test_apt_reads_the_pgdg_source_with_its_own_keyring():
    other = host("pg-other")
    arch = other.check_output("dpkg --print-architecture")
    targets = other.check_output("apt-get indextargets --no-release-info --format '$(URI)' 'Created-By: Packages'").split()
    assert "https://apt.postgresql.org/pub/repos/apt/dists/bookworm-pgdg/main/binary-%s/Packages" % arch in targets
    source = other.file("/etc/apt/sources.list.d/pgdg.sources").content_string
    assert "Signed-By: /etc/apt/keyrings/pgdg.asc" in source
    assert other.file("/etc/apt/keyrings/pgdg.asc").content_string.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")


def test_the_health_check_grades_a_replica_by_its_replay(tmp_path):
    """A replica whose replay is paused while the primary writes warns of its
    lag in seconds; once replay resumes and catches up it reads 0 s."""
    replica = REPLICAS[0]

    def replica_check():
        return health_check(tmp_path / "health.json", "-e", json.dumps(
            {"health_check_postgres": {"lag_seconds_warn": 1}}))[1][replica]

    sql(replica, "SELECT pg_wal_replay_pause()")
    try:
        sql(PRIMARY, "CREATE TABLE lag_probe (v int); INSERT INTO lag_probe VALUES (1)")
        time.sleep(2)
        paused = replica_check()
    finally:
        sql(replica, "SELECT pg_wal_replay_resume()")
    try:
        assert paused["status"] == "warn", paused
        assert "lag_seconds" in paused["reason"], paused
        for _attempt in range(10):
            if sql(replica, "SELECT count(*) FROM pg_class WHERE relname = 'lag_probe'") == "1":
                break
            time.sleep(1)
        resumed = replica_check()
        assert resumed["status"] == "ok", resumed
        assert "lag_seconds 0s" in resumed["reason"], resumed
    finally:
        sql(PRIMARY, "DROP TABLE lag_probe")
