# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.health import common


@pytest.mark.parametrize('value, warn, fail, higher, status, reason', [
    (10, 80, 90, True, 'ok', 'm 10%'),
    (80, 80, 90, True, 'warn', 'm 80% >= 80%'),
    (95.5, 80, 90, True, 'fail', 'm 95.5% >= 90%'),
    (95, None, None, True, 'ok', 'm 95%'),
    (30, 21, 7, False, 'ok', 'm 30%'),
    (20, 21, 7, False, 'warn', 'm 20% <= 21%'),
    (-3, 21, 7, False, 'fail', 'm -3% <= 7%'),
])
def test_grade(value, warn, fail, higher, status, reason):
    graded = common.grade('m', value, warn, fail, '%', higher_is_worse=higher)
    assert (graded['status'], graded['reason']) == (status, reason)


@pytest.mark.parametrize('statuses, expected', [
    ([], 'skip'), (['ok', 'skip'], 'ok'), (['ok', 'warn'], 'warn'), (['warn', 'fail', 'ok'], 'fail'),
])
def test_worst(statuses, expected):
    assert common.worst(statuses) == expected


def test_summarize_keeps_reasons_of_the_worst_status():
    metrics = [common.metric('a', 'ok', 1, None, 'a fine'), common.metric('b', 'fail', 2, 1, 'b broke'),
               common.metric('c', 'warn', 3, 2, 'c close'), common.metric('d', 'fail', 4, 1, 'd broke')]
    result = common.summarize('n', 't', metrics, time.monotonic())
    assert result['status'] == 'fail'
    assert result['reason'] == 'b broke; d broke'
    assert result['value'] == {'a': 1, 'b': 2, 'c': 3, 'd': 4}
    assert result['threshold'] == {'b': 1, 'c': 2, 'd': 1}


def _check(name, run, timeout=1.0):
    return dict(name=name, type='t', timeout=timeout, run=run)


def test_run_checks_concurrently_and_bounds_a_slow_one():
    release = threading.Event()

    def slow():
        release.wait(5)
        return [common.metric('x', 'ok', 1, None, 'late')]

    def sleepy():
        time.sleep(0.3)
        return [common.metric('x', 'ok', 1, None, 'slept')]

    checks = [_check('slow', slow, timeout=0.5)] + [_check('s%d' % i, sleepy) for i in range(5)]
    begun = time.monotonic()
    results = common.run_checks(checks)
    elapsed = time.monotonic() - begun
    release.set()
    assert elapsed < 1.0          # 5 x 0.3 s run side by side, the slow one cut at 0.5 s
    assert [r['name'] for r in results] == ['slow', 's0', 's1', 's2', 's3', 's4']
    assert results[0]['status'] == 'fail'
    assert results[0]['reason'] == 'timed out after 0.5s'
    assert all(r['status'] == 'ok' for r in results[1:])


def test_run_checks_turns_errors_into_failures():
    def domain():
        raise common.CheckError('thing is down')

    def bug():
        raise KeyError('oops')

    results = common.run_checks([_check('d', domain), _check('b', bug)])
    assert [(r['status'], r['reason']) for r in results] == [
        ('fail', 'thing is down'), ('fail', "check error: KeyError: 'oops'")]


@pytest.mark.parametrize('fail_on, failing', [('fail', ['f']), ('warn', ['w', 'f']), ('never', [])])
def test_overall(fail_on, failing):
    results = [dict(name=n, status=s) for n, s in (('o', 'ok'), ('w', 'warn'), ('f', 'fail'), ('s', 'skip'))]
    counts, bad = common.overall(results, fail_on)
    assert counts == {'ok': 1, 'warn': 1, 'fail': 1, 'skip': 1}
    assert [r['name'] for r in bad] == failing
