"""The app behind the edge in the nginx tests (Python stdlib only).

Paths are matched by their ending, so every route of a site reaches them:
  .../stream   server-sent events: three events 1.5 s apart, chunked
  .../ws       WebSocket handshake (101), then one text frame echoed back
  .../slow     answers after 3 s
  .../upload   POST: answers with the number of body bytes received
  anything     the request line and headers it got, as JSON
"""

import base64
import hashlib
import http.server
import json
import sys
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.endswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n in range(3):
                if n:
                    time.sleep(1.5)
                event = ("data: event %d\n\n" % n).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.endswith("/ws"):
            self._websocket()
        elif self.path.endswith("/slow"):
            time.sleep(3)
            self._send(200, '{"slow": true}')
        else:
            self._send(200, json.dumps({"path": self.path, "headers": dict(self.headers)}))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        received = 0
        while received < length:
            chunk = self.rfile.read(min(65536, length - received))
            if not chunk:
                break
            received += len(chunk)
        self._send(200, json.dumps({"received": received}))

    def _websocket(self):
        if self.headers.get("Upgrade", "").lower() != "websocket":
            self._send(400, '{"error": "not a websocket upgrade"}')
            return
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest())
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        # One masked client frame of up to 125 bytes, sent back unmasked.
        head = self.rfile.read(2)
        length = head[1] & 0x7F
        mask = self.rfile.read(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
        self.wfile.write(bytes([0x81, len(payload)]) + payload)
        self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
