# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Option values that ansible-core's own validation raises on instead of reporting.

ansible-core 2.19 raises (a traceback, not a failure naming the option) on
two shapes of value: a list or a dict given to an int option (Decimal reads a
list as its digit tuple: OverflowError), and a number given to a dict option
with suboptions, or to a list of them (TypeError while it looks for their
fallbacks). ansible_module() and the actions check each option alone first
and fail cleanly, with the option named, when ansible-core would raise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import basic
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

_ARTICLES = dict(int='an int', dict='a dict', list='a list', float='a float', bool='a bool')


def crashing_options(argument_spec, params, path=''):
    """{option: message} for the values that make ansible-core's validation raise, e.g. 'jobs must be an int, not list'.

    A suboption is named by its path (retention.keep_last); the key is the
    top-level option that holds it. The options come in sorted order.
    """
    found = {}
    for name in sorted(params):
        if name not in argument_spec or params[name] is None:
            continue
        option, value = argument_spec[name], params[name]
        try:
            ArgumentSpecValidator({name: option}).validate({name: value})
        except Exception:  # pylint: disable=broad-except  # what ansible-core raises is not for us to list
            items = value if isinstance(value, list) else [value]
            inner = {}
            if option.get('options') and all(isinstance(item, dict) for item in items):
                for item in items:
                    inner.update(crashing_options(option['options'], item, path + name + '.'))
            found[name] = '; '.join(sorted(set(inner.values()))) or '%s%s must be %s, not %s' % (
                path, name, _wanted(option), type(value).__name__)
    return found


def _wanted(option):
    wanted = _ARTICLES.get(option.get('type'), option.get('type'))
    return wanted + (' of %ss' % option['elements'] if option.get('elements') else '')


def ansible_module(argument_spec, **kwargs):
    """AnsibleModule(argument_spec, **kwargs), after failing cleanly on the values ansible-core would raise on.

    The failing options are masked in that failure's output like secrets: one
    may be a list of dicts that holds a password.
    """
    # No arguments at all when ansible-test introspects the module for its argument_spec.
    problems = crashing_options(argument_spec, basic._load_params() or {})  # pylint: disable=protected-access
    if problems:
        safe = dict(argument_spec, **dict((name, dict(type='raw', no_log=True)) for name in problems))
        module = basic.AnsibleModule(argument_spec=safe, bypass_checks=True, supports_check_mode=True)
        module.fail_json(msg='; '.join(problems.values()))
    return basic.AnsibleModule(argument_spec=argument_spec, **kwargs)
