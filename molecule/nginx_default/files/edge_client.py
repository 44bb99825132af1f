"""A client of the edge, run from another host in the nginx tests.

  edge_client.py stream HOST PATH   seconds at which each body chunk arrived, as JSON
  edge_client.py ws HOST PATH       WebSocket: status line, then the echoed text
"""

import base64
import json
import os
import socket
import ssl
import sys
import time


def connect(host):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(socket.create_connection((host, 443), timeout=20), server_hostname=host)


def stream(host, path):
    conn = connect(host)
    start = time.monotonic()
    conn.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
                  % (path, host)).encode())
    arrivals, data = [], b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"data: event" in chunk:
            arrivals.append(round(time.monotonic() - start, 2))
    print(json.dumps({"arrivals": arrivals, "events": data.count(b"data: event"),
                      "status": data.split(b"\r\n", 1)[0].decode()}))


def websocket(host, path):
    conn = connect(host)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, key)).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += conn.recv(1)
    print(response.split(b"\r\n", 1)[0].decode())
    if b" 101 " not in response.split(b"\r\n", 1)[0]:
        return
    payload, mask = b"hello through the edge", os.urandom(4)
    conn.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    head = conn.recv(2)
    print(conn.recv(head[1] & 0x7F).decode())


if __name__ == "__main__":
    {"stream": stream, "ws": websocket}[sys.argv[1]](*sys.argv[2:])
