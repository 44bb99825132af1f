# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which Debian packages apt would have to install or remove, read from dpkg.

``dpkg-query`` answers in milliseconds from dpkg's status file; opening apt's
cache costs a quarter of a second of CPU on every run. The
aiplatform.infra.apt_packages action asks dpkg first and hands apt only the
packages this module says it would change. Anything it cannot decide for
certain (a wildcard, an architecture qualifier, a half-installed package) is
left to apt.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re

# One line per package: name, the three status letters, the version (dpkg-query
# reads the \t and \n escapes itself).
QUERY_FORMAT = '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n'
# Debian policy 5.6.1: lower case letters, digits, + - . and at least two.
_NAME = re.compile(r'^[a-z0-9][a-z0-9+.-]+$')


def split_spec(spec):
    """``name=version`` as (name, version); version is None without ``=``."""
    name, sep, version = spec.partition('=')
    return name, (version if sep else None)


def query_argv(specs):
    """The dpkg-query command that shows the status of every decidable spec,
    or None when no spec has a plain name (dpkg-query would list them all)."""
    names = []
    for spec in specs:
        name = split_spec(spec)[0]
        if _NAME.match(name) and name not in names:
            names.append(name)
    return ['dpkg-query', '--show', '--showformat=' + QUERY_FORMAT, '--'] + names if names else None


def parse_status(stdout):
    """dpkg-query's lines as {name: (status letters, version)}.

    A name shown more than once (one line per architecture) keeps an
    installed line over any other.
    """
    status = {}
    for line in stdout.splitlines():
        fields = line.split('\t')
        if len(fields) != 3:
            continue
        name, letters, version = fields
        if name not in status or not is_installed(status[name][0]):
            status[name] = (letters, version)
    return status


def is_installed(letters):
    """Status letters of a package dpkg holds as installed, with no error flag.

    The second letter is the package's state (``i`` installed, ``c`` only its
    configuration files left, ``n`` not installed, others part-way); the third
    is blank unless dpkg flags the package as needing a reinstall.
    """
    return len(letters) >= 2 and letters[1] == 'i' and letters[2:].strip() == ''


def _needs_install(spec, status):
    name, version = split_spec(spec)
    if name not in status:
        return True
    letters, installed_version = status[name]
    if not is_installed(letters):
        return True
    return version is not None and not fnmatch.fnmatchcase(installed_version, version)


def _needs_removal(spec, status, purge):
    name, version = split_spec(spec)
    if version is not None:
        return True
    if name not in status:
        return False
    state = status[name][0][1:2]
    return state not in ('n', 'c') or (purge and state == 'c')


def pending(specs, status, state='present', purge=False):
    """The specs apt would act on, in their given order.

    ``present``: those not installed, or installed at a version other than
    the one asked for (``name=version``, the version may hold apt's ``*``
    wildcard). ``absent``: those still installed, and with ``purge`` those
    whose configuration files are left. A spec whose name is not a plain
    package name, and an ``absent`` spec with a version, is always apt's to
    decide.
    """
    todo = []
    for spec in specs:
        if not _NAME.match(split_spec(spec)[0]):
            needed = True
        elif state == 'present':
            needed = _needs_install(spec, status)
        else:
            needed = _needs_removal(spec, status, purge)
        if needed and spec not in todo:
            todo.append(spec)
    return todo
