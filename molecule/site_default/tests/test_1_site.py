"""The converged site: the app streams through the edge, Prometheus sees every
target, the health check is green, a --check --diff run changes nothing and
the backups are scheduled.
"""

import json
import socket
import ssl
import time

from edge_load import chat_request
from lab import ADDRESS, API_KEY, RAG_SITE_NAME, SITE_CERT, SITE_NAME, wait_until
from scenario_runs import changed_tasks, converge_playbook, host, playbook, quote, recap

EDGE = host("st-edge")
CHUNK_DELAY = 0.25  # STANDIN_DELAY, the app's pause between two chunks
EXPECTED_TARGETS = {
    ("node", "st-edge"), ("node", "st-app"), ("node", "st-app2"), ("node", "st-db1"), ("node", "st-db2"),
    ("postgres", "st-db1"), ("postgres", "st-db2"), ("nginx", "st-edge"), ("redis", "st-db2"), ("nginx_log", "st-edge"),
    ("alertmanager", "st-edge"), ("prometheus", "st-edge"), ("blackbox_https", "https://%s/" % SITE_NAME),
    ("blackbox_https", "https://%s/" % RAG_SITE_NAME),
}


def _stream_through_the_edge(ca_file):
    """POSTs a streaming chat completion to the edge; returns (seconds of each data chunk, body)."""
    context = ssl.create_default_context(cafile=ca_file)
    request = chat_request(SITE_NAME, API_KEY, stream=True)
    start = time.monotonic()
    arrivals, received = [], b""
    with socket.create_connection((ADDRESS["st-edge"], 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=SITE_NAME) as tls:
            tls.sendall(request)
            while True:
                data = tls.recv(65536)
                if not data:
                    break
                received += data
                arrivals += [time.monotonic() - start] * data.count(b"data: ")
    return arrivals, received.decode()


def test_the_app_streams_through_the_edge_chunk_by_chunk(tmp_path):
    ca_file = tmp_path / "site.pem"
    ca_file.write_text(EDGE.file(SITE_CERT).content_string)
    arrivals, received = _stream_through_the_edge(str(ca_file))
    head = received.partition("\r\n\r\n")[0]
    assert head.startswith("HTTP/1.1 200"), head
    assert "content-type: text/event-stream" in head.lower(), head
    # nginx re-frames the stream with chunked transfer encoding.
    assert "transfer-encoding: chunked" in head.lower(), head
    assert "data: [DONE]" in received
    # Each chunk arrives as the app sends it: spread over the stream's
    # duration, not in one buffered burst at its end.
    chunks = len(arrivals) - 1
    span = arrivals[-1] - arrivals[0]
    print("\nFIGURE streaming through the edge: %d chunks, first at %.2f s, last at %.2f s" %
          (chunks, arrivals[0], arrivals[-1]))
    assert chunks >= 10
    assert span >= (chunks - 1) * CHUNK_DELAY * 0.8, arrivals
    assert arrivals[0] < span / 4, arrivals
    assert len({round(t, 1) for t in arrivals}) >= chunks * 0.8, arrivals


def _targets():
    found = json.loads(EDGE.check_output("curl -fsS http://%s:9090/api/v1/targets?state=active" % ADDRESS["st-edge"]))
    return {(t["labels"]["job"], t["labels"].get("host", t["labels"]["instance"])): t["health"]
            for t in found["data"]["activeTargets"]}


def _statuses(path, key=None, times=1):
    """The status of each of times GETs of path through the edge's HTTPS, on one connection, from the edge."""
    header = "-H %s " % quote("Authorization: Bearer %s" % key) if key else ""
    gets = " ".join(["-o /dev/null https://%s%s" % (SITE_NAME, path)] * times)
    return EDGE.check_output("curl -s --cacert %s --resolve %s:443:127.0.0.1 %s-w '%%{http_code}\\n' %s"
                             % (SITE_CERT, SITE_NAME, header, gets)).split()


def test_the_model_apis_ask_for_a_key_and_limit_each_client():
    for path in ("/v1/models", "/api/tags"):
        assert _statuses(path) == ["401"], path
        assert _statuses(path, "not-the-lab-key-0123456789") == ["401"], path
    assert _statuses("/v1/models", API_KEY) == ["200"]
    assert _statuses("/health") == ["200"]  # the site's other routes ask for none
    # /api/ has the role's default API limit: 10 a second, 20 at once.
    burst = _statuses("/api/tags", API_KEY, times=60)
    print("\nFIGURE 60 keyed GETs of /api/tags at once: %d answered 200, %d answered 429"
          % (burst.count("200"), burst.count("429")))
    assert set(burst) == {"200", "429"} and 20 <= burst.count("200") < 50, burst


def test_prometheus_sees_every_target_up():
    def all_up():
        found = _targets()
        return set(found) == EXPECTED_TARGETS and set(found.values()) == {"up"}
    assert wait_until(all_up, 90, 3), _targets()


def test_the_health_check_is_green_on_every_host(tmp_path):
    out = tmp_path / "health.json"
    proc = playbook("aiplatform.infra.healthcheck", health_check_json_path=str(out), health_check_fail_on="warn")
    assert proc.returncode == 0, proc.stdout[-3000:]
    report = json.loads(out.read_text())
    assert sorted(report["hosts"]) == sorted(ADDRESS)
    not_ok = [row for row in report["rows"] if row["status"] != "ok"]
    assert not_ok == []
    checks = {(row["host"], row["check"]) for row in report["rows"]}
    assert ("st-edge", "app through the edge") in checks
    assert any(h == "st-app" and row_type == "docker" for h, row_type in
               ((row["host"], row["type"]) for row in report["rows"]))


def test_check_diff_on_the_converged_site_changes_nothing():
    started = time.monotonic()
    proc = playbook(converge_playbook(), "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    counters = recap(proc)
    # localhost: the lab's image archives, on the controller.
    assert sorted(counters) == sorted(list(ADDRESS) + ["localhost"]), counters
    assert {name: (c["changed"], c["failed"], c["unreachable"]) for name, c in counters.items()} == \
        {name: (0, 0, 0) for name in counters}, changed_tasks(proc)
    print("\nFIGURE check --diff of the converged site: %.0f s, changed=0 on %d hosts" %
          (time.monotonic() - started, len(ADDRESS)))


def test_backups_are_scheduled_on_the_primary_only():
    assert host("st-db1").service("aiplatform-pg-backup.timer").is_running
    assert not host("st-db2").file("/etc/systemd/system/aiplatform-pg-backup.timer").exists
