"""A client that sends chat completions through the edge's HTTPS, plain ones
at a fixed rate and streamed ones back to back, each on a new TLS connection
checked against the site's certificate, and counts any reset, non-2xx or
truncated response as a failure: the deploy tests' and bench/deploy.py's.
"""

import json
import socket
import ssl
import threading
import time

TIMEOUT = 15  # seconds a request may take (a stream takes about 4)


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def chat_request(site_name, api_key, stream):
    """The raw HTTP/1.1 POST of a chat completion to the site, with its API key."""
    body = json.dumps({"model": "standin-1", "stream": stream,
                       "messages": [{"role": "user", "content": "hello"}]}).encode()
    return ("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (site_name, api_key, len(body))).encode() + body


class EdgeLoad:
    """Requests through the edge on threads until stopped and min_requests are done.

    results holds (kind, seconds, the X-App-Version that answered, error or None, the time it began
    (time.time(), comparable with the lab hosts' clocks, which are this machine's)).
    """

    def __init__(self, address, site_name, api_key, cafile, min_requests=3000, rate=60, streamers=4):
        self.address, self.site_name, self.api_key = address, site_name, api_key
        self.context = ssl.create_default_context(cafile=cafile)
        self.min_requests, self.rate, self.streamers = min_requests, rate, streamers
        self.lock = threading.Lock()
        self.results = []
        self.done = threading.Event()
        self.threads = []

    def request(self, stream):
        began, started = time.time(), time.monotonic()
        version, error = None, None
        try:
            with socket.create_connection((self.address, 443), timeout=TIMEOUT) as raw:
                with self.context.wrap_socket(raw, server_hostname=self.site_name) as tls:
                    tls.sendall(chat_request(self.site_name, self.api_key, stream))
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
            self.results.append(("stream" if stream else "plain", time.monotonic() - started, version, error, began))

    def _enough(self):
        return self.done.is_set() and len(self.results) >= self.min_requests

    def _plain(self, first, step):
        start = time.monotonic()
        n = first
        while not self._enough():
            time.sleep(max(0.0, start + n / self.rate - time.monotonic()))
            self.request(False)
            n += step

    def _streams(self):
        while not self._enough():
            self.request(True)

    def __enter__(self):
        self.threads = [threading.Thread(target=self._plain, args=(i, 4)) for i in range(4)]
        self.threads += [threading.Thread(target=self._streams) for i in range(self.streamers)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.done.set()
        for thread in self.threads:
            thread.join()

    def failed(self):
        return [r for r in self.results if r[3]]

    def report(self, what):
        """Prints FIGURE lines (latency by kind, requests, failures, versions); returns the failed requests."""
        for kind in ("plain", "stream"):
            times = [r[1] for r in self.results if r[0] == kind and not r[3]]
            print("\nFIGURE %s, %s requests: %d, p50 %.3f s, p99 %.3f s"
                  % (what, kind, len(times), percentile(times, 0.5), percentile(times, 0.99)))
        print("FIGURE %s: %d requests, %d failed, versions %s"
              % (what, len(self.results), len(self.failed()), sorted({str(r[2]) for r in self.results})))
        return self.failed()
