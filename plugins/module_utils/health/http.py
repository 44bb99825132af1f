# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""http(s) and tcp checks, with the standard library only.

The certificate's expiry is read from the DER the server sends, so that an
expired or untrusted certificate still reports its days left; the chain is
judged separately by a verifying TLS handshake.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import socket
import ssl
import time

import http.client as http_client
from urllib.parse import urlsplit

from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import (
    FAIL, OK, CheckError, fmt, grade, metric)

_BODY_LIMIT = 1024 * 1024


def _der_item(data, pos):
    """Tag, start of content and end of one DER item at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError('truncated DER')
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7f
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError('bad DER length')
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    if pos + length > len(data):
        raise ValueError('truncated DER')
    return tag, pos, pos + length


def cert_not_after(der):
    """The notAfter time (aware, UTC) of a DER X.509 certificate."""
    try:
        tag, pos, _end = _der_item(der, 0)          # Certificate
        tag, pos, _end = _der_item(der, pos)        # TBSCertificate
        if tag != 0x30:
            raise ValueError('no TBSCertificate')
        tag, _start, end = _der_item(der, pos)      # version, or serialNumber
        if tag == 0xa0:
            end = _der_item(der, end)[2]            # serialNumber
        pos = end
        for _field in ('signature', 'issuer'):
            pos = _der_item(der, pos)[2]
        tag, pos, _end = _der_item(der, pos)        # Validity
        pos = _der_item(der, pos)[2]                # skip notBefore
        tag, start, end = _der_item(der, pos)
        text = der[start:end].decode('ascii')
        fmt = {0x17: '%y%m%d%H%M%SZ', 0x18: '%Y%m%d%H%M%SZ'}[tag]
        return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise CheckError('could not read the certificate\'s expiry: %s' % exc)


def cert_metrics(der, verify_error, now, days_warn, days_fail):
    """Days left and chain validity of a served certificate."""
    days = (cert_not_after(der) - now).total_seconds() / 86400.0
    days_metric = grade('cert_days_left', round(days, 1), days_warn, days_fail, 'd', higher_is_worse=False)
    if days <= 0:
        days_metric['reason'] = 'certificate expired %s days ago' % fmt(round(-days, 1))
    if verify_error:
        chain = metric('cert_chain', FAIL, False, True, 'certificate chain not valid: %s' % verify_error)
    else:
        chain = metric('cert_chain', OK, True, True, 'certificate chain valid')
    return [days_metric, chain]


def response_metrics(status, location, body, latency_ms, spec):
    """Status, redirect, body and latency of one response, graded."""
    metrics = []
    expected = spec['status']
    if spec['redirect_https']:
        target = location or ''
        good = 300 <= status < 400 and target.lower().startswith('https://')
        metrics.append(metric('redirect_https', OK if good else FAIL, target or status, 'https://',
                              'redirects to %s' % target if good else
                              'no redirect to https (status %s, Location %r)' % (status, target)))
    else:
        metrics.append(metric('status', OK if status in expected else FAIL, status, expected,
                              'status %s' % status + ('' if status in expected else ', expected %s' % expected)))
    if spec['body_match'] is not None:
        found = re.search(spec['body_match'], body.decode('utf-8', 'replace')) is not None
        metrics.append(metric('body_match', OK if found else FAIL, found, spec['body_match'],
                              'body matches %r' % spec['body_match'] if found
                              else 'body does not match %r' % spec['body_match']))
    metrics.append(grade('latency', round(latency_ms, 1), spec['latency_warn_ms'], spec['latency_fail_ms'], 'ms'))
    return metrics


def _tls_context(spec, verify):
    context = ssl.create_default_context(cafile=spec['ca_path'])
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _handshake(host, port, server_name, spec, timeout, verify):
    raw = socket.create_connection((host, port), timeout)
    try:
        return _tls_context(spec, verify).wrap_socket(raw, server_hostname=server_name)
    except Exception:
        raw.close()
        raise


def _tls_socket(host, port, server_name, spec, timeout):
    """A TLS connection to the server, and why its certificate did not verify, if it did not.

    One handshake when the certificate verifies; a second, unverified one
    otherwise, so that the certificate can still be read and graded.
    """
    try:
        return _handshake(host, port, server_name, spec, timeout, True), None
    except ssl.SSLCertVerificationError as exc:
        return _handshake(host, port, server_name, spec, timeout, False), exc.verify_message or str(exc)


def check_http(spec):
    """Request ``spec['url']`` once (no redirects followed) and grade what came back."""
    url = urlsplit(spec['url'])
    if url.scheme not in ('http', 'https') or not url.hostname:
        raise CheckError('url %r is not an http(s) URL' % spec['url'])
    port = url.port or (443 if url.scheme == 'https' else 80)
    timeout = spec['timeout']
    path = url.path or '/'
    if url.query:
        path += '?' + url.query
    metrics = []
    try:
        connection = http_client.HTTPConnection(url.hostname, port, timeout=timeout)
        if url.scheme == 'https':
            # The request goes over the connection whose certificate is graded,
            # with server_name as its SNI name.
            connection.sock, verify_error = _tls_socket(url.hostname, port, spec['server_name'] or url.hostname,
                                                        spec, timeout)
            metrics.extend(cert_metrics(connection.sock.getpeercert(binary_form=True), verify_error,
                                        datetime.datetime.now(datetime.timezone.utc),
                                        spec['cert_days_warn'], spec['cert_days_fail']))
        begun = time.monotonic()
        headers = {'User-Agent': 'aiplatform.infra.health_check', 'Connection': 'close'}
        if spec['server_name']:
            headers['Host'] = spec['server_name']
        connection.request(spec['method'], path, headers=headers)
        response = connection.getresponse()
        body = response.read(_BODY_LIMIT)
        latency_ms = (time.monotonic() - begun) * 1000.0
        connection.close()
    except (socket.error, ssl.SSLError, http_client.HTTPException) as exc:
        raise CheckError('%s unreachable: %s' % (spec['url'], exc))
    return metrics + response_metrics(response.status, response.getheader('Location'), body, latency_ms, spec)


def check_tcp(spec):
    """Connect to ``host:port`` within the timeout."""
    begun = time.monotonic()
    try:
        with socket.create_connection((spec['host'], spec['port']), spec['timeout']):
            latency_ms = (time.monotonic() - begun) * 1000.0
    except (socket.error, OSError) as exc:
        raise CheckError('%s:%s not reachable: %s' % (spec['host'], spec['port'], exc))
    return [grade('connect', round(latency_ms, 1), spec['latency_warn_ms'], spec['latency_fail_ms'], 'ms')]
