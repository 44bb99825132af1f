# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.aiplatform.infra.plugins.module_utils.redact import HIDDEN, redacted

SITES = [
    {'name': 'chat', 'api_keys': ['k1', 'k2'], 'tls': {'source': 'files', 'private_key': 'PEM'}},
    {'name': 'docs', 'tls': {'source': 'acme'}, 'api_keys': []},
]


def test_set_secrets_are_hidden_and_keep_their_shape():
    found = redacted(SITES, ['api_keys', 'tls.private_key'])
    assert found[0] == {'name': 'chat', 'api_keys': [HIDDEN, HIDDEN], 'tls': {'source': 'files', 'private_key': HIDDEN}}
    assert found[1] == SITES[1]
    assert 'PEM' not in repr(found) and 'k1' not in repr(found)


def test_the_input_is_left_as_it_was():
    redacted(SITES, ['tls.private_key'])
    assert SITES[0]['tls']['private_key'] == 'PEM'


def test_paths_through_missing_or_plain_values_are_skipped():
    assert redacted({'tls': 'x', 'a': None}, ['tls.private_key', 'a', 'b.c']) == {'tls': 'x', 'a': None}
    assert redacted('text', ['a']) == 'text'
