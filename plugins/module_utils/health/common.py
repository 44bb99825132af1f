# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ok/warn/fail model of the health checks, and the concurrent runner.

A check is a callable that returns a list of metrics; each metric is graded
against its thresholds. A check's status is the worst of its metrics, its
reason the reasons of the metrics that carry that status.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

OK, WARN, FAIL, SKIP = 'ok', 'warn', 'fail', 'skip'
_RANK = {SKIP: 0, OK: 1, WARN: 2, FAIL: 3}


class CheckError(Exception):
    """A check could not measure what it checks; the check fails with this message."""


def worst(statuses):
    statuses = list(statuses)
    return max(statuses, key=_RANK.get) if statuses else SKIP


def metric(name, status, value, threshold, reason):
    return dict(metric=name, status=status, value=value, threshold=threshold, reason=reason)


def grade(name, value, warn=None, fail=None, unit='', higher_is_worse=True):
    """Grade a measured number against a warn and a fail threshold (either may be None)."""
    def crossed(limit):
        if limit is None:
            return False
        return value >= limit if higher_is_worse else value <= limit

    shown = '%s%s' % (fmt(value), unit)
    word = '>=' if higher_is_worse else '<='
    if crossed(fail):
        return metric(name, FAIL, value, fail, '%s %s %s %s%s' % (name, shown, word, fmt(fail), unit))
    if crossed(warn):
        return metric(name, WARN, value, warn, '%s %s %s %s%s' % (name, shown, word, fmt(warn), unit))
    limit = fail if fail is not None else warn
    return metric(name, OK, value, limit, '%s %s' % (name, shown))


def fmt(number):
    if isinstance(number, float):
        return ('%.3f' % number).rstrip('0').rstrip('.')
    return str(number)


def summarize(name, kind, metrics, started):
    """One check's result from its metrics."""
    status = worst(m['status'] for m in metrics)
    reasons = [m['reason'] for m in metrics if m['status'] == status]
    if len(metrics) == 1:
        value, threshold = metrics[0]['value'], metrics[0]['threshold']
    else:
        value = dict((m['metric'], m['value']) for m in metrics)
        threshold = dict((m['metric'], m['threshold']) for m in metrics if m['threshold'] is not None)
    return dict(name=name, type=kind, status=status, reason='; '.join(reasons) or 'no metrics',
                value=value, threshold=threshold, metrics=metrics,
                duration=round(time.monotonic() - started, 4))


def _failed(name, kind, reason, started, threshold=None):
    return summarize(name, kind, [metric('check', FAIL, None, threshold, reason)], started)


def run_checks(checks):
    """Run ``checks`` concurrently, each in its own thread, each bounded by its own timeout.

    ``checks`` is a list of dicts with ``name``, ``type``, ``timeout`` (seconds)
    and ``run`` (a callable returning a list of metrics). A check that raises
    fails with the error as its reason; a check still running at its timeout
    fails with "timed out" and is left behind in a daemon thread, so one slow
    check never holds the others, nor the module, past its own timeout.
    Results come back in the order of ``checks``.
    """
    started = time.monotonic()
    slots = [None] * len(checks)
    threads = []

    def work(index, check):
        begun = time.monotonic()
        try:
            slots[index] = summarize(check['name'], check['type'], check['run'](), begun)
        except CheckError as exc:
            slots[index] = _failed(check['name'], check['type'], str(exc), begun)
        except Exception as exc:  # pylint: disable=broad-except
            slots[index] = _failed(check['name'], check['type'],
                                   'check error: %s: %s' % (type(exc).__name__, exc), begun)

    for index, check in enumerate(checks):
        thread = threading.Thread(target=work, args=(index, check), name='health-%s' % check['name'])
        thread.daemon = True
        thread.start()
        threads.append(thread)
    for index, (thread, check) in enumerate(zip(threads, checks)):
        thread.join(max(0.0, started + check['timeout'] - time.monotonic()))
        if thread.is_alive() or slots[index] is None:
            slots[index] = _failed(check['name'], check['type'], 'timed out after %ss' % fmt(check['timeout']),
                                   started, threshold=check['timeout'])
    return list(slots)


def overall(results, fail_on):
    """Counts per status, and the results that fail the task: on ``fail``, on ``warn`` too, or ``never``."""
    counts = dict((status, 0) for status in (OK, WARN, FAIL, SKIP))
    for result in results:
        counts[result['status']] += 1
    failing = {'fail': (FAIL,), 'warn': (WARN, FAIL), 'never': ()}[fail_on]
    return counts, [result for result in results if result['status'] in failing]
