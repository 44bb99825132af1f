"""Time aiplatform.infra.health_check in one module call, against local endpoints.

Two figures, each with a baseline measured in the same run (the same checks
called one after another, as a module without the threaded runner would):

- 100 http/tcp checks (50 of each) against local servers; target < 2 s.
- one host's full stack when healthy: https with certificate checks, an
  http->https redirect, tcp, the Docker daemon (this machine's engine, when
  /var/run/docker.sock answers), the gpu check (skips without a card) and
  two disks; target < 1 s. PostgreSQL and systemd are not in it: this
  machine runs neither.

Each endpoint answers after --delay seconds (default 0.05) so that the
figures show what concurrency buys when endpoints are not instant.

    .venv/bin/python bench/health_checks.py [--delay 0.05] [--runs 3]
"""

import argparse
import contextlib
import datetime
import http.server
import io
import json
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".lab", "collections"))

from ansible.module_utils.testing import patch_module_args  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible_collections.aiplatform.infra.plugins.modules import health_check  # noqa: E402


def handler(delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay)
            if self.path == "/redirect":
                self.send_response(301)
                self.send_header("Location", "https://localhost/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"platform healthy"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return Handler


class SlowAcceptServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def serve(delay, tls_dir=None):
    httpd = SlowAcceptServer(("127.0.0.1", 0), handler(delay))
    if tls_dir:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem"))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd.server_address[1]


def self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    with open(os.path.join(directory, "cert.pem"), "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "key.pem"), "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def module_call(args):
    """One call of the module's main(); returns (seconds, result)."""
    out = io.StringIO()
    begun = time.monotonic()
    with patch_module_args(dict(args, _ansible_check_mode=True)), contextlib.redirect_stdout(out):
        try:
            health_check.main()
        except SystemExit:
            pass
    return time.monotonic() - begun, json.loads(out.getvalue())


def sequential(args):
    """The same checks, one after another (the baseline)."""
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        module = health_check.AnsibleModule(argument_spec=health_check.ARGUMENT_SPEC, supports_check_mode=True)
    begun = time.monotonic()
    for check in health_check.plan_checks(module.params, module.run_command, module.get_bin_path):
        check["run"]()
    return time.monotonic() - begun


def measure(label, args, runs, target):
    concurrent, baseline, result = [], [], None
    for _run in range(runs):
        seconds, result = module_call(args)
        concurrent.append(seconds)
        baseline.append(sequential(args))
    median, base = statistics.median(concurrent), statistics.median(baseline)
    print("%-34s %3d checks  one module call %.3f s (target < %.1f s: %s)  sequential %.3f s  speed-up x%.1f  %s"
          % (label, len(result["checks"]), median, target, "met" if median < target else "MISSED", base,
             base / median, result["summary"]))
    return median < target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tls_dir:
        self_signed(tls_dir)
        plain = [serve(options.delay) for _i in range(5)]
        secure = serve(options.delay, tls_dir)
        ca = os.path.join(tls_dir, "cert.pem")
        many = dict(http=[dict(url="http://127.0.0.1:%d/item/%d" % (plain[i % 5], i), body_match="healthy")
                          for i in range(50)],
                    tcp=[dict(port=plain[i % 5], name="tcp %d" % i) for i in range(50)])
        full = dict(http=[dict(url="https://localhost:%d/" % secure, ca_path=ca, body_match="healthy"),
                          dict(url="http://127.0.0.1:%d/redirect" % plain[0], redirect_https=True)],
                    tcp=[dict(port=secure)], gpu={}, disk=[dict(path="/"), dict(path=tempfile.gettempdir())])
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect("/var/run/docker.sock")
            full["docker"] = {}
        except OSError:
            print("no Docker engine on /var/run/docker.sock: the full-stack run leaves docker out")
        print("endpoint delay %.3f s, median of %d runs, CPU cores %d" % (options.delay, options.runs, os.cpu_count()))
        ok = measure("100 http/tcp checks", many, options.runs, 2.0)
        ok = measure("full stack of one host (healthy)", full, options.runs, 1.0) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
