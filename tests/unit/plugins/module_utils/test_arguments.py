# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import io
import json

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.testing import patch_module_args
from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import ansible_module, crashing_options

SPEC = dict(jobs=dict(type='int'), retention=dict(type='dict', options=dict(keep=dict(type='int'))),
            checks=dict(type='list', elements='dict', options=dict(port=dict(type='int'))),
            token=dict(type='str', no_log=True))


@pytest.mark.parametrize('params', [dict(jobs=[2 ** 64, 0, 0]), dict(retention=0)])
def test_these_values_make_ansible_core_raise(params):
    with pytest.raises(Exception):
        ArgumentSpecValidator(SPEC).validate(params)


@pytest.mark.parametrize('params, found', [
    (dict(jobs=[2 ** 64, 0, 0]), {'jobs': 'jobs must be an int, not list'}),
    (dict(retention=0, jobs=3), {'retention': 'retention must be a dict, not int'}),
    (dict(jobs='x', retention=dict(keep='y'), checks=[1], unknown=1), {}),  # ansible-core reports these itself
])
def test_crashing_options_names_them(params, found):
    assert crashing_options(SPEC, params) == found


def test_ansible_module_fails_cleanly_and_masks_the_value():
    out = io.StringIO()
    with patch_module_args(dict(retention=0, jobs=[2 ** 64, 0, 0], token='t0ken-secret')):
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            ansible_module(argument_spec=SPEC)
    result = json.loads(out.getvalue())
    assert result['failed'] is True
    assert result['msg'] == 'jobs must be an int, not list; retention must be a dict, not int'
    assert 't0ken-secret' not in out.getvalue()


def test_a_crashing_suboption_is_named_by_its_path():
    assert crashing_options(SPEC, dict(retention=dict(keep=[2 ** 64, 0, 0]))) == {
        'retention': 'retention.keep must be an int, not list'}
    assert crashing_options(SPEC, dict(checks=[dict(port=1), dict(port=[2 ** 64, 0, 0])])) == {
        'checks': 'checks.port must be an int, not list'}
