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

from lab import ADDRESS, API_KEY, CHAT_TOKEN, SITE_CERT, SITE_NAME, deploy_under_load, edge_load, served_versions
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
    proc, failed = deploy_under_load(load, "broken 3", lab_chat_version=3,
                                     apps_health_retries=3, apps_health_delay=1)
    assert proc.returncode != 0
    assert ("chat 3 failed on st-app: its health check GET http://127.0.0.1:8080/health answered 503 "
            "(wanted 200). Version 2 serves again.") in proc.stdout, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"2"}
    assert served_versions() == {"st-app": "2", "st-app2": "2"}


def test_rollback_puts_each_host_back_on_its_previous_version(tmp_path):
    load = edge_load(tmp_path, SITE_NAME, SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "rollback 2 to 1", "-vvv", apps_rollback="true", apps_only="chat")
    assert proc.returncode == 0, proc.stdout[-3000:]
    # At the most verbose, the output names no secret of the inventory.
    assert "TASK [aiplatform.infra.apps : Run the container - app-chat 1]" in proc.stdout
    assert CHAT_TOKEN not in proc.stdout and API_KEY not in proc.stdout
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"1", "2"}
    assert served_versions() == {"st-app": "1", "st-app2": "1"}


def test_the_apps_secret_reaches_its_process_from_its_file_alone():
    """The app's process has its token; docker inspect and the host's other files have it nowhere."""
    app = host("st-app")
    environ = app.check_output("docker exec app-chat /usr/bin/python3 -c %s"
                               % quote("print(*open('/proc/1/environ').read().split(chr(0)), sep=chr(10))"))
    assert "STANDIN_TOKEN=%s" % CHAT_TOKEN in environ.splitlines()
    inspect = app.check_output("docker inspect app-chat")
    assert CHAT_TOKEN not in inspect and "STANDIN_TOKEN" not in inspect
    holders = app.run("grep -rlsF %s /etc /var /run /root /home /opt /srv /tmp /usr/local" % quote(CHAT_TOKEN))
    assert holders.stdout.split() == ["/etc/aiplatform-apps/chat/secrets.env"], holders.stdout
    assert app.file("/etc/aiplatform-apps/chat/secrets.env").mode == 0o400
