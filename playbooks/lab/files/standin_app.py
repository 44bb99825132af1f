"""A stand-in for the platform's AI app in the lab: a tiny OpenAI-compatible server.

GET /health answers {"status": "ok", "version": VERSION} (a version built
with STANDIN_HEALTHY=false answers 503 instead: a release that fails its
health check); GET /v1/models lists one model, as GET /api/tags does in
Ollama's form;
POST /v1/chat/completions answers with a fixed reply, word by word, as
server-sent events (text/event-stream) with STANDIN_DELAY seconds between
chunks when the request asks for "stream": true, else as one JSON object.
Every response carries the version in an X-App-Version header, and echoes
the request id the edge passes (X-Request-ID). Standard library only: the
image is built without a registry.
"""

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "standin-1"
REPLY = "This is the lab's stand-in model answering through the edge, one word at a time."
DELAY = float(os.environ.get("STANDIN_DELAY", "0.25"))
VERSION = os.environ.get("STANDIN_VERSION", "0")
HEALTHY = os.environ.get("STANDIN_HEALTHY", "true") == "true"


class Handler(BaseHTTPRequestHandler):
    server_version = "standin-app/" + VERSION
    protocol_version = "HTTP/1.1"

    def _head(self, status, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-App-Version", VERSION)
        if self.headers.get("X-Request-ID"):
            self.send_header("X-Request-ID", self.headers["X-Request-ID"])

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self._head(status, "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path == "/health":
            self._json(200 if HEALTHY else 503, {"status": "ok" if HEALTHY else "broken", "version": VERSION})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "lab"}]})
        elif self.path == "/api/tags":
            self._json(200, {"models": [{"name": MODEL, "model": MODEL}]})
        elif self.path == "/":
            self._json(200, {"app": "standin",
                             "endpoints": ["/health", "/v1/models", "/v1/chat/completions", "/api/tags"]})
        else:
            self._json(404, {"error": {"message": "no route %s" % self.path}})

    def do_POST(self):  # noqa: N802
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "no route %s" % self.path}})
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "the body is not JSON"}})
            return
        created = int(time.time())
        if not request.get("stream"):
            self._json(200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": created,
                             "model": MODEL, "choices": [{"index": 0, "finish_reason": "stop",
                                                          "message": {"role": "assistant", "content": REPLY}}]})
            return
        self._head(200, "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for word in REPLY.split(" "):
            chunk = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": created,
                     "model": MODEL, "choices": [{"index": 0, "delta": {"content": word + " "}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
            time.sleep(DELAY)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("STANDIN_PORT", "8080"))), Handler).serve_forever()
