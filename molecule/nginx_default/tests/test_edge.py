"""The TLS edge seen from outside (nginx-client), and its host (nginx-edge)."""

import json
import re
import time

import pytest
import testinfra

testinfra_hosts = ["ansible://nginx-client"]

TLS_DIR = "/etc/ssl/aiplatform-nginx"
# Mozilla's intermediate TLS 1.2 ciphers (roles/nginx/vars/main.yml), by
# the certificate's key type: "files" has an RSA key, "api" an ECDSA one.
RSA_CIPHERS = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305",
               "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"}
ECDSA_CIPHERS = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}
# SECLEVEL=0: the client offers everything it can, so only the server refuses.
S_CLIENT = "openssl s_client -connect nginx-edge:443 -servername {name} {opts} </dev/null"
CLIENT = "python3 /usr/local/bin/edge_client.py "


@pytest.fixture(scope="module")
def edge(host):
    return testinfra.get_host("ansible://nginx-edge", ansible_inventory=host.backend.ansible_inventory)


@pytest.fixture(scope="module")
def pebble_root(host):
    """The test CA's root; pebble makes a new one at each start."""
    host.check_output("curl -skf -o /tmp/pebble-root.pem https://nginx-acme:15000/roots/0")
    return "/tmp/pebble-root.pem"


def served_certificate(host, name):
    return host.check_output(S_CLIENT.format(name=name, opts="") + " 2>/dev/null"
                             " | openssl x509 -noout -serial -issuer -subject")


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(host, protocol):
    result = host.run(S_CLIENT.format(name="files.nginx.test", opts=protocol + " -cipher DEFAULT@SECLEVEL=0"))
    assert result.rc != 0
    assert "alert protocol version" in result.stderr


@pytest.mark.parametrize("protocol, name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_12_and_13_accepted(host, protocol, name):
    result = host.run(S_CLIENT.format(name="files.nginx.test", opts=protocol))
    assert result.rc == 0, result.stderr
    assert "New, %s, Cipher is" % name in result.stdout


@pytest.mark.parametrize("name, expected", [("files.nginx.test", RSA_CIPHERS), ("api.nginx.test", ECDSA_CIPHERS)])
def test_tls12_ciphers_are_the_profiles(host, name, expected):
    accepted = host.check_output(
        "for c in $(openssl ciphers -tls1_2 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' | tr ':' ' '); do "
        + S_CLIENT.format(name=name, opts='-tls1_2 -cipher "$c:@SECLEVEL=0"')
        + ' >/dev/null 2>&1 && echo "$c"; done; true').split()
    assert set(accepted) == expected


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"])
def test_tls13_suites_accepted(host, suite):
    result = host.run(S_CLIENT.format(name="files.nginx.test", opts="-tls1_3 -ciphersuites " + suite))
    assert result.rc == 0, result.stderr
    assert "Cipher is %s" % suite in result.stdout


def test_dhe_uses_ffdhe2048(host, edge):
    result = host.run(S_CLIENT.format(name="files.nginx.test", opts="-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256"))
    assert "Server Temp Key: DH, 2048 bits" in result.stdout
    rfc7919 = edge.check_output("openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048")
    assert edge.file("/etc/nginx/ffdhe2048.pem").content_string.strip() == rfc7919.strip()


def test_http_redirects_to_https(host):
    headers = host.check_output("curl -sI 'http://chat.nginx.test/some/path?q=1'")
    assert headers.startswith("HTTP/1.1 301")
    assert "Location: https://chat.nginx.test/some/path?q=1" in headers


def test_acme_challenges_served_on_port_80(host, edge):
    with edge.sudo():
        edge.check_output("mkdir -p /var/lib/aiplatform-acme/.well-known/acme-challenge"
                          " && printf token-from-the-ca >/var/lib/aiplatform-acme/.well-known/acme-challenge/probe")
    assert host.check_output("curl -sf http://chat.nginx.test/.well-known/acme-challenge/probe") == "token-from-the-ca"


def test_https_response_headers_and_http2(host):
    result = host.check_output("curl -sk --http2 -D- -o /dev/null https://chat.nginx.test/")
    lines = result.splitlines()
    assert lines[0].strip() == "HTTP/2 200"
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    assert headers["strict-transport-security"].strip() == "max-age=63072000"
    assert headers["x-content-type-options"].strip() == "nosniff"
    assert headers["x-frame-options"].strip() == "SAMEORIGIN"
    assert headers["referrer-policy"].strip() == "strict-origin-when-cross-origin"
    assert headers["server"].strip() == "nginx"  # server_tokens off: no version


def test_upstream_gets_forwarding_headers(host):
    seen = json.loads(host.check_output("curl -sk https://chat.nginx.test/echo"))["headers"]
    assert seen["Host"] == "chat.nginx.test"
    assert seen["X-Forwarded-Proto"] == "https"
    assert seen["X-Forwarded-For"] == seen["X-Real-IP"]


def test_websocket_upgrade_through_the_proxy(host):
    status, echoed = host.check_output(CLIENT + "ws chat.nginx.test /ws").splitlines()
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert echoed == "hello through the edge"


def test_stream_arrives_in_chunks_before_the_upstream_finishes(host):
    # The app sends three events 1.5 s apart.
    result = json.loads(host.check_output(CLIENT + "stream chat.nginx.test /chat/stream"))
    assert result["events"] == 3
    assert len(result["arrivals"]) == 3
    assert result["arrivals"][0] < 1.0
    assert result["arrivals"][-1] >= 2.5


def test_buffered_route_holds_the_stream(host):
    # The route's proxy_buffering: true overrides the role's default.
    result = json.loads(host.check_output(CLIENT + "stream chat.nginx.test /buffered/stream"))
    assert result["events"] == 3
    assert len(result["arrivals"]) == 1
    assert result["arrivals"][0] >= 2.5


@pytest.mark.parametrize("path, status", [("/slow", "200"), ("/short/slow", "504")])
def test_read_timeout_per_route(host, path, status):
    # The app answers after 3 s: the default waits, the route's 1 s does not.
    assert host.check_output("curl -sk -o /dev/null -w '%%{http_code}' https://chat.nginx.test%s" % path) == status


@pytest.mark.parametrize("path, size, status", [("/upload", "20M", "200"), ("/short/upload", "2K", "413")])
def test_request_body_limits(host, path, size, status):
    result = host.check_output(
        "head -c %s /dev/zero | curl -sk -o /dev/null -w '%%{http_code}' --data-binary @- https://chat.nginx.test%s"
        % (size, path))
    assert result == status


def test_rate_limit_answers_429(host):
    codes = host.check_output(
        "for i in $(seq 20); do curl -sk -o /dev/null -w '%{http_code} ' https://api.nginx.test/; done").split()
    assert codes[0] == "200"
    assert "429" in codes
    assert set(codes) == {"200", "429"}


def test_acme_certificate_is_from_the_test_ca(host, pebble_root):
    assert "issuer=CN = Pebble Intermediate CA" in served_certificate(host, "chat.nginx.test")
    # The chain the edge serves verifies up to pebble's root.
    assert host.run("curl -sf --cacert %s -o /dev/null https://chat.nginx.test/" % pebble_root).rc == 0


def test_files_and_selfsigned_certificates_served(host):
    files = served_certificate(host, "files.nginx.test")
    assert "issuer=CN = AIP Test CA" in files
    assert "subject=CN = files.nginx.test" in files
    api = served_certificate(host, "api.nginx.test")
    assert "issuer=CN = api.nginx.test" in api
    assert "subject=CN = api.nginx.test" in api


def test_unknown_name_gets_no_certificate(host):
    result = host.run(S_CLIENT.format(name="other.nginx.test", opts=""))
    assert result.rc != 0
    assert "unrecognized name" in result.stderr


def test_ocsp_stapling_only_where_the_certificate_has_a_responder(edge):
    assert "ssl_stapling on;" in edge.file("/etc/nginx/aiplatform-sites/files.conf").content_string
    for site in ("chat", "api"):
        assert "ssl_stapling" not in edge.file("/etc/nginx/aiplatform-sites/%s.conf" % site).content_string


def test_stub_status_on_loopback_only(host, edge):
    assert edge.check_output("curl -sf http://127.0.0.1:8081/stub_status").startswith("Active connections:")
    assert host.run("curl -s http://nginx-edge:8081/stub_status").rc == 7  # connection refused


def test_access_log_is_json(host, edge):
    host.check_output("curl -sk -o /dev/null https://chat.nginx.test/logged?marker=1")
    with edge.sudo():
        lines = edge.check_output("grep -F '/logged?marker=1' /var/log/nginx/access.log").splitlines()
    entry = json.loads(lines[-1])
    assert entry["request_uri"] == "/logged?marker=1"
    assert entry["status"] == 200
    assert entry["host"] == "chat.nginx.test"
    assert entry["ssl_protocol"] == "TLSv1.3"
    assert entry["upstream_addr"] == "127.0.0.1:9000"


def test_keys_stay_root_only(edge):
    with edge.sudo():
        for site in ("chat", "files", "api"):
            assert edge.file("%s/%s" % (TLS_DIR, site)).mode == 0o700
            key = edge.file("%s/%s/privkey.pem" % (TLS_DIR, site))
            assert key.user == "root"
            assert key.mode == 0o600


def test_renewal_runs_on_the_host(edge):
    assert edge.service("certbot.timer").is_enabled
    assert edge.service("certbot.timer").is_running
    environment = edge.check_output("systemctl show -p Environment certbot.service")
    assert "REQUESTS_CA_BUNDLE=/usr/local/share/aip-test/pebble-listener.pem" in environment


def test_refused_certificate_keeps_the_old_one_serving(host, edge):
    """A renewed certificate that nginx -t refuses is not put in service."""
    before = served_certificate(host, "chat.nginx.test")
    with edge.sudo():
        files_before = edge.check_output("sha256sum %s/chat/*" % TLS_DIR)
        edge.check_output("install -d /root/bad-lineage/chat"
                          " && cp /etc/letsencrypt/live/chat/fullchain.pem /root/bad-lineage/chat/"
                          " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
                          " -out /root/bad-lineage/chat/privkey.pem")
        hook = edge.run("RENEWED_LINEAGE=/root/bad-lineage/chat /etc/letsencrypt/renewal-hooks/deploy/50-aiplatform-nginx")
        files_after = edge.check_output("sha256sum %s/chat/*" % TLS_DIR)
        edge.check_output("rm -rf /root/bad-lineage")
    assert hook.rc == 1
    assert "the old one stays in service" in hook.stderr
    assert "key values mismatch" in hook.stderr  # nginx's own words
    assert files_after == files_before
    assert served_certificate(host, "chat.nginx.test") == before


def test_forced_renewal_is_served(host, edge, pebble_root):
    """certbot.service, as its timer starts it, renews and the edge serves the new certificate."""
    before = served_certificate(host, "chat.nginx.test")
    renewal = "/etc/letsencrypt/renewal/chat.conf"
    with edge.sudo():
        # Pebble's certificates last five years: make this one due now.
        edge.check_output("sed -i '1i renew_before_expiry = 3650 days' %s" % renewal)
        try:
            edge.check_output("systemctl start certbot.service")
        finally:
            edge.check_output("sed -i '/^renew_before_expiry = 3650 days/d' %s" % renewal)
        live = edge.check_output("openssl x509 -noout -serial -in /etc/letsencrypt/live/chat/cert.pem")
    # nginx's new workers take over within moments of the reload.
    deadline = time.monotonic() + 5
    after = served_certificate(host, "chat.nginx.test")
    while after == before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = served_certificate(host, "chat.nginx.test")
    assert after != before
    assert re.search(r"^%s$" % re.escape(live), after, re.M)
    assert "issuer=CN = Pebble Intermediate CA" in after
    assert host.run("curl -sf --cacert %s -o /dev/null https://chat.nginx.test/" % pebble_root).rc == 0
