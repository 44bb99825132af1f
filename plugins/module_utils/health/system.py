# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""systemd unit and disk checks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.aiplatform.infra.plugins.module_utils.health.common import (
    FAIL, OK, CheckError, grade, metric)


def parse_systemctl_show(text):
    """``systemctl show -p ...`` output as a dict; malformed lines are an error."""
    props = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition('=')
        if not sep or not key:
            raise CheckError('unexpected systemctl output line %r' % line)
        props[key] = value
    return props


def unit_metrics(unit, props):
    load, active, sub = props.get('LoadState'), props.get('ActiveState'), props.get('SubState')
    if load is None or active is None:
        raise CheckError('systemctl did not report LoadState/ActiveState for %s' % unit)
    if load != 'loaded':
        return [metric('active', FAIL, load, 'active', 'unit %s is %s' % (unit, load))]
    status = OK if active == 'active' else FAIL
    return [metric('active', status, active, 'active', 'unit %s is %s (%s)' % (unit, active, sub))]


def check_systemd(spec, run_command):
    rc, out, err = run_command(['systemctl', 'show', '--no-pager', '-p', 'LoadState,ActiveState,SubState',
                                spec['unit']])
    if rc != 0:
        raise CheckError('systemctl show %s failed (rc %s): %s' % (spec['unit'], rc, (err or out).strip()))
    return unit_metrics(spec['unit'], parse_systemctl_show(out))


def disk_metrics(path, stat, spec):
    """Space and inode use, in percent of what unprivileged users can have (as df shows)."""
    metrics = []
    used = stat.f_blocks - stat.f_bfree
    usable = used + stat.f_bavail
    if usable <= 0:
        raise CheckError('%s reports no blocks' % path)
    metrics.append(grade('space_used_pct', round(100.0 * used / usable, 1),
                         spec['space_warn_pct'], spec['space_fail_pct'], '%'))
    if stat.f_files > 0:   # filesystems without inode accounting (btrfs, some tmpfs) report 0
        inodes = stat.f_files - stat.f_ffree
        metrics.append(grade('inodes_used_pct', round(100.0 * inodes / stat.f_files, 1),
                             spec['inodes_warn_pct'], spec['inodes_fail_pct'], '%'))
    metrics.append(metric('space_free_bytes', OK, stat.f_bavail * stat.f_frsize, None,
                          '%s free' % _human(stat.f_bavail * stat.f_frsize)))
    return metrics


def _human(size):
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if size < 1024 or unit == 'TiB':
            return '%.1f %s' % (size, unit) if unit != 'B' else '%d B' % size
        size /= 1024.0


def check_disk(spec, statvfs=os.statvfs):
    try:
        stat = statvfs(spec['path'])
    except OSError as exc:
        raise CheckError('cannot stat %s: %s' % (spec['path'], exc))
    return disk_metrics(spec['path'], stat, spec)
