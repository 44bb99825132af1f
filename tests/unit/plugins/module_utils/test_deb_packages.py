# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.deb_packages import (
    QUERY_FORMAT,
    is_installed,
    parse_status,
    pending,
    query_argv,
    split_spec,
)

# As dpkg-query prints it with QUERY_FORMAT (a real bookworm host's lines).
STATUS_TEXT = (
    'chrony\tii \t4.3-2+deb12u3\n'
    'locales-all\tun \t\n'
    'telnet\trc \t0.17+2.4-2\n'
    'half\tiU \t1.0\n'
    'broken\tiiR\t1.0\n'
    'libfoo\tun \t\n'
    'libfoo\tii \t2.1-1\n'
    'docker-ce\tii \t5:27.3.1-1~debian.12~bookworm\n'
)
STATUS = parse_status(STATUS_TEXT)


def test_the_query_asks_dpkg_for_each_plain_name_once():
    argv = query_argv(['chrony', 'docker-ce=5:27.3.1*', 'chrony', 'nginx-*', 'foo:i386'])
    assert argv == ['dpkg-query', '--show', '--showformat=' + QUERY_FORMAT, '--', 'chrony', 'docker-ce']
    assert QUERY_FORMAT == '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n'
    assert query_argv(['nginx-*', 'foo:i386']) is None


def test_status_lines_keep_an_installed_architecture_over_another():
    assert STATUS['chrony'] == ('ii ', '4.3-2+deb12u3')
    assert STATUS['libfoo'] == ('ii ', '2.1-1')
    assert 'nosuch' not in STATUS
    assert parse_status('garbage line\n\n') == {}


@pytest.mark.parametrize('letters, installed', [
    ('ii ', True), ('hi ', True), ('iiR', False), ('iU ', False), ('rc ', False), ('un ', False), ('', False),
])
def test_installed_means_state_i_and_no_error_flag(letters, installed):
    assert is_installed(letters) is installed


def test_split_spec():
    assert split_spec('docker-ce=5:27.3.1*') == ('docker-ce', '5:27.3.1*')
    assert split_spec('chrony') == ('chrony', None)


def test_present_hands_apt_only_what_is_missing_or_at_another_version():
    specs = ['chrony', 'locales-all', 'nosuch', 'half', 'broken', 'libfoo', 'telnet',
             'docker-ce=5:27.3.1*', 'docker-ce=5:26.1.0*']
    assert pending(specs, STATUS) == ['locales-all', 'nosuch', 'half', 'broken', 'telnet', 'docker-ce=5:26.1.0*']


def test_present_with_everything_installed_is_empty():
    assert pending(['chrony', 'libfoo', 'docker-ce=5:27.3.1-1~debian.12~bookworm'], STATUS) == []


def test_names_dpkg_cannot_answer_for_are_left_to_apt():
    assert pending(['nginx-*', 'chrony:amd64', 'chrony'], STATUS) == ['nginx-*', 'chrony:amd64']


def test_absent_hands_apt_what_is_installed_and_with_purge_what_left_its_files():
    specs = ['chrony', 'locales-all', 'nosuch', 'telnet', 'half']
    assert pending(specs, STATUS, 'absent') == ['chrony', 'half']
    assert pending(specs, STATUS, 'absent', purge=True) == ['chrony', 'telnet', 'half']


def test_a_removal_by_version_is_left_to_apt():
    assert pending(['nosuch=1.0'], STATUS, 'absent') == ['nosuch=1.0']


def test_a_spec_given_twice_is_handed_over_once():
    assert pending(['nosuch', 'nosuch'], STATUS) == ['nosuch']
