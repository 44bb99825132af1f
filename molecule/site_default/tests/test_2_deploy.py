"""The chat app's published port, reached from the edge alone; then deploys of
the app (roles/apps, playbooks/deploy.yml) through the edge
under load, in order: version 1 rolls to 2 across both app hosts with no
failed request; a broken version 3 never answers and version 2 serves on;
the rollback puts every host back on its previous version (1), its -vvv output
naming no secret; the app's secret is in its process and its file alone.

The client (molecule/edge_load.py) runs here, on the controller, against the
edge's HTTPS: plain chat completions at a fixed rate and streamed ones back
to back, each on a new TLS connection checked against the site's
certificate, so that any reset, non-2xx or truncated response counts as a
failure.
"""

from lab import (ADDRESS, API_KEY, CHAT_DB_PASSWORD, CHAT_TOKEN, SITE_CERT, SITE_NAME, deploy_broken,
                 deploy_under_load, edge_load, served_versions)
from scenario_runs import host, quote

MIN_REQUESTS = 3000


def test_the_apps_published_port_answers_the_edge_alone():
    """Docker publishes the port past the input chain: the base role's forward rules keep others out."""
    probe = "curl -s -m 3 -o /dev/null -w %%{http_code} http://%s:8080/health" % ADDRESS["st-app"]
    assert host("st-edge").run(probe).stdout == "200"
    for name in ("st-db1", "st-db2", "st-app2"):
        refused = host(name).run(probe)
        assert refused.rc == 28 and refused.stdout == "000", (name, refused.rc, refused.stdout)


def test_rolling_update_from_1_to_2_drops_no_request(tmp_path):
    assert served_versions() == {"st-app": "1", "st-app2": "1"}
    load = edge_load(tmp_path, SITE_NAME, SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "rolling 1 to 2", lab_chat_version=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert len(load.results) >= MIN_REQUESTS
    assert {r[2] for r in load.results} == {"1", "2"}
    assert served_versions() == {"st-app": "2", "st-app2": "2"}


def test_a_broken_version_3_never_answers_and_2_serves_on(tmp_path):
    load = edge_load(tmp_path, SITE_NAME, SITE_CERT, MIN_REQUESTS)
    deploy_broken(load, "broken 3", "chat 3 failed on st-app: its health check GET http://127.0.0.1:8080/health "
                  "answered 503 (wanted 200). Version 2 serves again.", lab_chat_version=3)
    assert served_versions() == {"st-app": "2", "st-app2": "2"}


def test_rollback_puts_each_host_back_on_its_previous_version(tmp_path):
    load = edge_load(tmp_path, SITE_NAME, SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "rollback 2 to 1", "-vvv", apps_rollback="true", apps_only="chat")
    assert proc.returncode == 0, proc.stdout[-3000:]
    # At the most verbose, the output names no secret of the inventory.
    assert "TASK [aiplatform.infra.apps : Run the container - app-chat 1]" in proc.stdout
    assert CHAT_TOKEN not in proc.stdout and API_KEY not in proc.stdout and CHAT_DB_PASSWORD not in proc.stdout
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"1", "2"}
    assert served_versions() == {"st-app": "1", "st-app2": "1"}


def _environ(container):
    """The environment of a container's process 1 (after its entry point read the secrets file), as a dict."""
    lines = host("st-app").check_output(
        "docker exec %s /usr/bin/python3 -c %s"
        % (container, quote("print(*open('/proc/1/environ').read().split(chr(0)), sep=chr(10))"))).splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_the_apps_secrets_reach_its_process_from_its_file_alone():
    """The app's token and database password are in its process; docker inspect and the host's other files
    have them nowhere."""
    app = host("st-app")
    environ = _environ("app-chat")
    assert environ["STANDIN_TOKEN"] == CHAT_TOKEN
    assert ":%s@" % CHAT_DB_PASSWORD in environ["DATABASE_URL"]
    inspect = app.check_output("docker inspect app-chat")
    for secret in (CHAT_TOKEN, CHAT_DB_PASSWORD):
        assert secret not in inspect
        holders = app.run("grep -rlsF %s /etc /var /run /root /home /opt /srv /tmp /usr/local" % quote(secret))
        assert holders.stdout.split() == ["/etc/aiplatform-apps/chat/secrets.env"], holders.stdout
    assert "STANDIN_TOKEN" not in inspect and "DATABASE_URL" not in inspect
    assert app.file("/etc/aiplatform-apps/chat/secrets.env").mode == 0o400


def test_each_app_reaches_its_own_database_over_verified_tls_and_no_other():
    """The chat app's URL, as its process has it, gets a TLS session as chat on database chat, the server
    checked against the CA mounted in the container; the same role is refused on the rag app's database."""
    app = host("st-app")
    app.check_output("command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -qy postgresql-client")
    url = _environ("app-chat")["DATABASE_URL"]
    assert url.startswith("postgresql://chat:") and "/chat?sslmode=verify-full&sslrootcert=" in url, "no URL"
    ca_inside, ca_here = "/run/aiplatform/postgresql-ca.crt", "/etc/aiplatform-apps/chat/postgresql-ca.crt"
    inside = app.check_output("docker exec app-chat /usr/bin/python3 -c %s"
                              % quote("print(open(%r).read(), end='')" % ca_inside))
    assert inside == app.check_output("cat %s" % ca_here) and "BEGIN CERTIFICATE" in inside
    # From the host, with the file the container has mounted.
    here = url.replace(ca_inside, ca_here)
    session = "SELECT current_user || ' ' || current_database() || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    assert app.check_output("psql %s -XAtc %s" % (quote(here), quote(session))) == "chat chat true"
    refused = app.run("psql %s -XAtc 'SELECT 1'" % quote(here.replace("/chat?", "/rag?")))
    assert refused.rc == 2 and 'user "chat", database "rag"' in refused.stderr, refused.stderr
    # A server the CA did not sign is refused: the client checks it.
    wrong = app.run("psql %s -XAtc 'SELECT 1'" % quote(here.replace(ca_here, "/etc/ssl/certs/ca-certificates.crt")))
    assert wrong.rc == 2 and "certificate verify failed" in wrong.stderr, wrong.stderr
