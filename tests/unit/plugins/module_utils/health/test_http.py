# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import http.server
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.aiplatform.infra.plugins.module_utils.health import http as health_http
from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import CheckError

NOW = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)


def make_cert(not_before, not_after, name='localhost'):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def spec(**overrides):
    base = dict(url='http://127.0.0.1/', method='GET', server_name=None, status=[200], body_match=None,
                redirect_https=False, latency_warn_ms=None, latency_fail_ms=None, cert_days_warn=21,
                cert_days_fail=7, ca_path=None, timeout=2.0)
    base.update(overrides)
    return base


@pytest.mark.parametrize('not_after', [
    datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),   # UTCTime
    datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),   # GeneralizedTime
])
def test_cert_not_after_reads_der(not_after):
    cert, _key = make_cert(not_after - datetime.timedelta(days=30), not_after)
    assert health_http.cert_not_after(cert.public_bytes(serialization.Encoding.DER)) == not_after


@pytest.mark.parametrize('der', [b'', b'\x30', b'\x30\x82\xff\xff\x00', b'\x02\x01\x00', b'garbage here'])
def test_cert_not_after_rejects_malformed(der):
    with pytest.raises(CheckError, match='could not read the certificate'):
        health_http.cert_not_after(der)


@pytest.mark.parametrize('days, verify_error, statuses, reason', [
    (90, None, ['ok', 'ok'], 'cert_days_left 90d'),
    (10, None, ['warn', 'ok'], 'cert_days_left 10d <= 21d'),
    (3, None, ['fail', 'ok'], 'cert_days_left 3d <= 7d'),
    (-30, 'certificate has expired', ['fail', 'fail'], 'certificate expired 30 days ago'),
    (90, 'self-signed certificate', ['ok', 'fail'], 'cert_days_left 90d'),
])
def test_cert_metrics(days, verify_error, statuses, reason):
    cert, _key = make_cert(NOW - datetime.timedelta(days=400), NOW + datetime.timedelta(days=days))
    metrics = health_http.cert_metrics(cert.public_bytes(serialization.Encoding.DER), verify_error, NOW, 21, 7)
    assert [m['status'] for m in metrics] == statuses
    assert metrics[0]['reason'] == reason
    if verify_error:
        assert metrics[1]['reason'] == 'certificate chain not valid: %s' % verify_error


@pytest.mark.parametrize('status, location, body, latency, overrides, expected', [
    (200, None, b'hello', 5.0, {}, [('status', 'ok'), ('latency', 'ok')]),
    (503, None, b'', 5.0, {}, [('status', 'fail'), ('latency', 'ok')]),
    (204, None, b'', 5.0, {'status': [200, 204]}, [('status', 'ok'), ('latency', 'ok')]),
    (200, None, b'<title>Open WebUI</title>', 5.0, {'body_match': 'Open WebUI'},
     [('status', 'ok'), ('body_match', 'ok'), ('latency', 'ok')]),
    (200, None, b'\xff\xfe broken utf-8', 5.0, {'body_match': 'Open WebUI'},
     [('status', 'ok'), ('body_match', 'fail'), ('latency', 'ok')]),
    (301, 'https://x/', b'', 5.0, {'redirect_https': True}, [('redirect_https', 'ok'), ('latency', 'ok')]),
    (301, 'http://x/', b'', 5.0, {'redirect_https': True}, [('redirect_https', 'fail'), ('latency', 'ok')]),
    (200, None, b'', 5.0, {'redirect_https': True}, [('redirect_https', 'fail'), ('latency', 'ok')]),
    (200, None, b'', 600.0, {'latency_warn_ms': 500, 'latency_fail_ms': 2000}, [('status', 'ok'), ('latency', 'warn')]),
    (200, None, b'', 2500.0, {'latency_warn_ms': 500, 'latency_fail_ms': 2000}, [('status', 'ok'), ('latency', 'fail')]),
])
def test_response_metrics(status, location, body, latency, overrides, expected):
    metrics = health_http.response_metrics(status, location, body, latency, spec(**overrides))
    assert [(m['metric'], m['status']) for m in metrics] == expected


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/redirect':
            self.send_response(301)
            self.send_header('Location', 'https://localhost/')
            self.end_headers()
            return
        body = b'platform healthy'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local http or https server; yields a starter taking (not_before, not_after) or None."""
    servers = []

    def start(validity=None):
        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        ca_path = None
        if validity:
            cert, key = make_cert(*validity)
            cert_path, key_path = tmp_path / 'cert.pem', tmp_path / 'key.pem'
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert_path), str(key_path))
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
            ca_path = str(cert_path)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd.server_address[1], ca_path

    yield start
    for httpd in servers:
        httpd.shutdown()


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def test_check_http_plain_and_redirect(server):
    port, _ca = server()
    metrics = health_http.check_http(spec(url='http://127.0.0.1:%d/' % port, body_match='healthy'))
    assert [m['status'] for m in metrics] == ['ok', 'ok', 'ok']
    metrics = health_http.check_http(spec(url='http://127.0.0.1:%d/redirect' % port, redirect_https=True))
    assert metrics[0]['status'] == 'ok'
    metrics = health_http.check_http(spec(url='http://127.0.0.1:%d/' % port, redirect_https=True))
    assert metrics[0]['reason'] == "no redirect to https (status 200, Location '')"


def test_check_https_valid_certificate(server):
    port, ca_path = server((_now() - datetime.timedelta(days=1), _now() + datetime.timedelta(days=90)))
    metrics = health_http.check_http(spec(url='https://localhost:%d/' % port, ca_path=ca_path))
    assert [(m['metric'], m['status']) for m in metrics] == [
        ('cert_days_left', 'ok'), ('cert_chain', 'ok'), ('status', 'ok'), ('latency', 'ok')]


def test_check_https_expired_certificate(server):
    port, ca_path = server((_now() - datetime.timedelta(days=400), _now() - datetime.timedelta(days=30)))
    metrics = health_http.check_http(spec(url='https://localhost:%d/' % port, ca_path=ca_path))
    assert [(m['metric'], m['status']) for m in metrics][:2] == [('cert_days_left', 'fail'), ('cert_chain', 'fail')]
    assert metrics[0]['reason'].startswith('certificate expired 30')
    assert metrics[1]['reason'] == 'certificate chain not valid: certificate has expired'


def test_check_https_untrusted_chain(server):
    port, _ca = server((_now() - datetime.timedelta(days=1), _now() + datetime.timedelta(days=90)))
    metrics = health_http.check_http(spec(url='https://localhost:%d/' % port))
    assert metrics[1]['status'] == 'fail'
    assert 'self-signed' in metrics[1]['reason'] or 'self signed' in metrics[1]['reason']


def _closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_check_http_unreachable():
    with pytest.raises(CheckError, match='unreachable'):
        health_http.check_http(spec(url='http://127.0.0.1:%d/' % _closed_port()))


@pytest.mark.parametrize('url', ['ftp://host/', 'not a url'])
def test_check_http_rejects_bad_url(url):
    with pytest.raises(CheckError, match='not an http'):
        health_http.check_http(spec(url=url))


def test_check_tcp(server):
    port, _ca = server()
    metrics = health_http.check_tcp(dict(host='127.0.0.1', port=port, timeout=1.0,
                                         latency_warn_ms=None, latency_fail_ms=None))
    assert metrics[0]['status'] == 'ok'
    with pytest.raises(CheckError, match='not reachable'):
        health_http.check_tcp(dict(host='127.0.0.1', port=_closed_port(), timeout=1.0,
                                   latency_warn_ms=None, latency_fail_ms=None))
