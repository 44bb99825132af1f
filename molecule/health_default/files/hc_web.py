"""Test web endpoints: https with a valid (8443) and an expired (8444) certificate, http->https redirect (8080)."""

import http.server
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.server.server_address[1] == 8080:
            self.send_response(301)
            self.send_header('Location', 'https://localhost:8443%s' % self.path)
            self.end_headers()
            return
        body = b'platform healthy\n'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port, cert=None):
    httpd = http.server.ThreadingHTTPServer(('0.0.0.0', port), Handler)
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain('/etc/hc-test/%s.pem' % cert, '/etc/hc-test/%s.key' % cert)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return threading.Thread(target=httpd.serve_forever)


if __name__ == '__main__':
    threads = [serve(8443, 'valid'), serve(8444, 'expired'), serve(8080)]
    for thread in threads:
        thread.start()
    sys.stdout.write('serving\n')
    sys.stdout.flush()
    for thread in threads:
        thread.join()
