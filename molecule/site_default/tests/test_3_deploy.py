"""The chat app's published port, reached from the edge alone; then deploys of
the app (roles/apps, playbooks/deploy.yml) through the edge
under load, in order: version 1 rolls to 2 across both app hosts with no
failed request; a broken version 3 never answers and version 2 serves on;
the rollback puts every host back on its previous version (1).

The client (EdgeLoad) runs here, on the controller, against the edge's
HTTPS: plain chat completions at a fixed rate and streamed ones back to back,
each on a new TLS connection checked against the site's certificate, so
that any reset, non-2xx or truncated response counts as a failure.
"""

import json
import socket
import ssl
import threading
import time

from lab import ADDRESS, SITE_CERT, SITE_NAME
from scenario_runs import host, playbook

DEPLOY = "aiplatform.infra.deploy"
MIN_REQUESTS = 3000
RATE = 60               # plain requests a second
STREAMERS = 4           # streams always under way
TIMEOUT = 15            # seconds a request may take (a stream takes about 4)


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class EdgeLoad:
    """Requests through the edge on threads until stopped and MIN_REQUESTS are done."""

    def __init__(self, cafile):
        self.context = ssl.create_default_context(cafile=cafile)
        self.lock = threading.Lock()
        self.results = []       # (kind, seconds, version, error or None)
        self.done = threading.Event()
        self.threads = []

    def request(self, stream):
        body = json.dumps({"model": "standin-1", "stream": stream,
                           "messages": [{"role": "user", "content": "hello"}]}).encode()
        head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (SITE_NAME, len(body))).encode()
        started = time.monotonic()
        version, error = None, None
        try:
            with socket.create_connection((ADDRESS["st-edge"], 443), timeout=TIMEOUT) as raw:
                with self.context.wrap_socket(raw, server_hostname=SITE_NAME) as tls:
                    tls.sendall(head + body)
                    data = b""
                    while time.monotonic() - started < TIMEOUT:
                        chunk = tls.recv(65536)
                        if not chunk:
                            break
                        data += chunk
            end = data.find(b"\r\n\r\n")
            headers, payload = (data[:end], data[end + 4:]) if end >= 0 else (data, b"")
            lines = headers.decode("latin-1").split("\r\n")
            fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            version = fields.get("X-App-Version")
            status = lines[0].split(" ")[1] if " " in lines[0] else "none"
            if not status.startswith("2"):
                error = "status %s" % status
            elif stream and b"data: [DONE]" not in payload:
                error = "stream truncated after %d bytes" % len(payload)
            elif not stream and len(payload) != int(fields.get("Content-Length", -1)):
                error = "body truncated: %d of %s bytes" % (len(payload), fields.get("Content-Length"))
        except (OSError, ValueError) as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
        with self.lock:
            self.results.append(("stream" if stream else "plain", time.monotonic() - started, version, error))

    def _enough(self):
        return self.done.is_set() and len(self.results) >= MIN_REQUESTS

    def _plain(self, first, step):
        start = time.monotonic()
        n = first
        while not self._enough():
            time.sleep(max(0.0, start + n / RATE - time.monotonic()))
            self.request(False)
            n += step

    def _streams(self):
        while not self._enough():
            self.request(True)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._plain, args=(i, 4)) for i in range(4)]
        self.threads += [threading.Thread(target=self._streams) for i in range(STREAMERS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.done.set()
        for thread in self.threads:
            thread.join()

    def report(self, what):
        failed = [r for r in self.results if r[3]]
        for kind in ("plain", "stream"):
            times = [r[1] for r in self.results if r[0] == kind and not r[3]]
            print("\nFIGURE %s, %s requests: %d, p50 %.3f s, p99 %.3f s"
                  % (what, kind, len(times), _percentile(times, 0.5), _percentile(times, 0.99)))
        print("FIGURE %s: %d requests, %d failed, versions %s"
              % (what, len(self.results), len(failed), sorted({str(r[2]) for r in self.results})))
        return failed


def _cafile(tmp_path):
    path = tmp_path / "site.pem"
    path.write_text(host("st-edge").check_output("cat %s" % SITE_CERT) + "\n")
    return str(path)


def _served_versions():
    """Each app host's running version, by its health check, asked from the edge."""
    edge = host("st-edge")
    return {name: json.loads(edge.check_output("curl -sf http://%s:8080/health" % ADDRESS[name]))["version"]
            for name in ("st-app", "st-app2")}


def _deploy(tmp_path, what, **extra_vars):
    with EdgeLoad(_cafile(tmp_path)) as load:
        started = time.monotonic()
        proc = playbook(DEPLOY, **extra_vars)
        took = time.monotonic() - started
    failed = load.report(what)
    print("FIGURE %s: the playbook took %.1f s" % (what, took))
    return proc, load, failed


def test_the_apps_published_port_answers_the_edge_alone():
    """Docker publishes the port past the input chain: the base role's forward rules keep others out."""
    probe = "curl -s -m 3 -o /dev/null -w %%{http_code} http://%s:8080/health" % ADDRESS["st-app"]
    assert host("st-edge").run(probe).stdout == "200"
    for name in ("st-db2", "st-app2"):  # st-db1 is down since the failover drill
        refused = host(name).run(probe)
        assert refused.rc == 28 and refused.stdout == "000", (name, refused.rc, refused.stdout)


def test_rolling_update_from_1_to_2_drops_no_request(tmp_path):
    assert _served_versions() == {"st-app": "1", "st-app2": "1"}
    proc, load, failed = _deploy(tmp_path, "rolling 1 to 2", lab_chat_version=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert len(load.results) >= MIN_REQUESTS
    assert {r[2] for r in load.results} == {"1", "2"}
    assert _served_versions() == {"st-app": "2", "st-app2": "2"}


def test_a_broken_version_3_never_answers_and_2_serves_on(tmp_path):
    proc, load, failed = _deploy(tmp_path, "broken 3", lab_chat_version=3,
                                 apps_health_retries=3, apps_health_delay=1)
    assert proc.returncode != 0
    assert ("chat 3 failed on st-app: its health check GET http://127.0.0.1:8080/health answered 503 "
            "(wanted 200). Version 2 serves again.") in proc.stdout, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"2"}
    assert _served_versions() == {"st-app": "2", "st-app2": "2"}


def test_rollback_puts_each_host_back_on_its_previous_version(tmp_path):
    proc, load, failed = _deploy(tmp_path, "rollback 2 to 1", apps_rollback="true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"1", "2"}
    assert _served_versions() == {"st-app": "1", "st-app2": "1"}
