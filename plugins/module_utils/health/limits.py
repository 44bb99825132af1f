# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ranges of health_check's options that argument_spec cannot say.

Every timeout is above 0; ports are 1 to 65535; counts and thresholds are 0
or more, percentages at most 100; a warn threshold comes before its fail
threshold (below it where a higher value is worse, above it for the days a
certificate has left).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Per check type: option -> (lowest, highest); None is no bound.
RANGES = dict(
    http=dict(latency_warn_ms=(0, None), latency_fail_ms=(0, None), cert_days_warn=(0, None),
              cert_days_fail=(0, None)),
    tcp=dict(port=(1, 65535), latency_warn_ms=(0, None), latency_fail_ms=(0, None)),
    postgres=dict(port=(1, 65535), min_replicas=(0, None), lag_bytes_warn=(0, None), lag_bytes_fail=(0, None),
                  lag_seconds_warn=(0, None), lag_seconds_fail=(0, None), slot_retained_warn=(0, None),
                  slot_retained_fail=(0, None), transaction_seconds_warn=(0, None),
                  transaction_seconds_fail=(0, None)),
    redis=dict(port=(1, 65535), latency_warn_ms=(0, None), latency_fail_ms=(0, None)),
    docker=dict(),
    gpu=dict(count=(0, None), temperature_warn=(0, None), temperature_fail=(0, None), memory_warn_pct=(0, 100),
             memory_fail_pct=(0, 100)),
    systemd=dict(),
    disk=dict(space_warn_pct=(0, 100), space_fail_pct=(0, 100), inodes_warn_pct=(0, 100),
              inodes_fail_pct=(0, 100)),
)
# Per check type: (warn option, fail option, whether a higher value is worse).
ORDER = dict(
    http=[('latency_warn_ms', 'latency_fail_ms', True), ('cert_days_warn', 'cert_days_fail', False)],
    tcp=[('latency_warn_ms', 'latency_fail_ms', True)],
    postgres=[('lag_bytes_warn', 'lag_bytes_fail', True), ('lag_seconds_warn', 'lag_seconds_fail', True),
              ('slot_retained_warn', 'slot_retained_fail', True),
              ('transaction_seconds_warn', 'transaction_seconds_fail', True)],
    redis=[('latency_warn_ms', 'latency_fail_ms', True)],
    gpu=[('temperature_warn', 'temperature_fail', True), ('memory_warn_pct', 'memory_fail_pct', True)],
    disk=[('space_warn_pct', 'space_fail_pct', True), ('inodes_warn_pct', 'inodes_fail_pct', True)],
)


def problems(params):
    """Messages naming each option out of its range, e.g. 'disk[0].space_warn_pct (96) is above ...'."""
    found = []
    for kind, ranges in RANGES.items():
        value = params.get(kind)
        specs = [] if value is None else ([(kind, value)] if isinstance(value, dict) else
                                          [('%s[%d]' % (kind, i), item) for i, item in enumerate(value)])
        for where, spec in specs:
            found += _check_one(kind, where, spec, ranges)
    return found


def _check_one(kind, where, spec, ranges):
    found = []
    if spec['timeout'] <= 0:
        found.append('%s.timeout must be above 0 seconds, not %s' % (where, spec['timeout']))
    for name, (low, high) in sorted(ranges.items()):
        value = spec.get(name)
        if value is None:
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            found.append('%s.%s must be %s, not %s' % (
                where, name, '%s or more' % low if high is None else 'between %s and %s' % (low, high), value))
    for status in spec.get('status') or []:
        if not 100 <= status <= 599:
            found.append('%s.status %s is not an HTTP status (100 to 599)' % (where, status))
    for warn, fail, higher_is_worse in ORDER.get(kind, []):
        if spec.get(warn) is None or spec.get(fail) is None:
            continue
        wrong = spec[warn] > spec[fail] if higher_is_worse else spec[warn] < spec[fail]
        if wrong:
            found.append('%s.%s (%s) must be %s %s.%s (%s): the warning comes first' % (
                where, warn, spec[warn], 'at most' if higher_is_worse else 'at least', where, fail, spec[fail]))
    return found
