# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Copies of inventory data with their secret values hidden, for what a
role loops over: Ansible prints each loop item with ``-v``, however the
loop's label reads."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

HIDDEN = '(hidden)'


def _hide(value):
    """A value's stand-in: as many hidden items as a list had, a hidden string for anything else set."""
    if isinstance(value, (list, tuple)):
        return [HIDDEN] * len(value)
    return HIDDEN if value not in (None, '') else value


def _hide_path(found, keys):
    """Hides found's value at keys, copying each dict on the way (the input is never changed)."""
    if keys[0] not in found:
        return
    if len(keys) == 1:
        found[keys[0]] = _hide(found[keys[0]])
    elif isinstance(found[keys[0]], dict):
        found[keys[0]] = dict(found[keys[0]])
        _hide_path(found[keys[0]], keys[1:])


def redacted(items, paths):
    """``items`` (a dict or a list of dicts) copied, each dotted path in ``paths`` that is set hidden.

    Only the dicts on a path are copied, never deep-copied: Ansible's lazily
    templated values must not be copied wholesale.
    """
    if isinstance(items, (list, tuple)):
        return [redacted(item, paths) for item in items]
    if not isinstance(items, dict):
        return items
    found = dict(items)
    for path in paths:
        _hide_path(found, path.split('.'))
    return found
