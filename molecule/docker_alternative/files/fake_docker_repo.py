"""Serve a directory over HTTPS: the stand-in for download.docker.com.

Usage: fake_docker_repo.py ROOT CERT KEY. Listens on 127.0.0.1:443.
"""

import functools
import http.server
import ssl
import sys


def main():
    root, cert, key = sys.argv[1:4]
    # HTTP/1.1 keeps the connection for apt to close: an HTTP/1.0 close
    # without a TLS close_notify is an error to OpenSSL 3 clients.
    http.server.SimpleHTTPRequestHandler.protocol_version = "HTTP/1.1"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 443), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
