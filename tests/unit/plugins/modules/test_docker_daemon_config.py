# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.aiplatform.infra.plugins.modules import docker_daemon_config


def run(tmp_path, capsys, check_mode=False, **args):
    args.setdefault('validate', False)
    args.update(path=str(tmp_path / 'daemon.json'), fragments_dir=str(tmp_path / 'daemon.json.d'),
                _ansible_check_mode=check_mode, _ansible_diff=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            docker_daemon_config.main()
    return json.loads(capsys.readouterr().out)


def read(path):
    with open(str(path)) as handle:
        return json.load(handle)


def test_present_writes_fragment_and_merged_file(tmp_path, capsys):
    result = run(tmp_path, capsys, name='10-defaults', settings={'live-restore': True})
    assert result['changed'] is True
    assert result['fragments'] == ['10-defaults']
    assert read(tmp_path / 'daemon.json') == {'live-restore': True}
    assert read(tmp_path / 'daemon.json.d' / '10-defaults.json') == {'live-restore': True}
    assert result['diff']['before'] == ''


def test_second_run_changes_nothing(tmp_path, capsys):
    run(tmp_path, capsys, name='10-defaults', settings={'live-restore': True})
    result = run(tmp_path, capsys, name='10-defaults', settings={'live-restore': True})
    assert result['changed'] is False
    assert result['validation'] == 'unchanged'


def test_check_mode_writes_nothing(tmp_path, capsys):
    result = run(tmp_path, capsys, check_mode=True, name='10-defaults', settings={'live-restore': True})
    assert result['changed'] is True
    assert result['config'] == {'live-restore': True}
    assert not (tmp_path / 'daemon.json').exists()
    assert not (tmp_path / 'daemon.json.d').exists()


def test_fragments_merge_and_absent_removes(tmp_path, capsys):
    run(tmp_path, capsys, name='10-defaults', settings={'log-opts': {'max-size': '10m', 'max-file': '3'}})
    result = run(tmp_path, capsys, name='50-operator', settings={'log-opts': {'max-size': '50m'}})
    assert result['config'] == {'log-opts': {'max-size': '50m', 'max-file': '3'}}
    assert result['overrides'] == [
        {'key': 'log-opts.max-size', 'fragment': '10-defaults', 'overridden_by': '50-operator'}]
    result = run(tmp_path, capsys, name='50-operator', state='absent')
    assert result['changed'] is True
    assert read(tmp_path / 'daemon.json') == {'log-opts': {'max-size': '10m', 'max-file': '3'}}
    assert not (tmp_path / 'daemon.json.d' / '50-operator.json').exists()


def test_hand_written_file_is_adopted(tmp_path, capsys):
    (tmp_path / 'daemon.json').write_text('{"data-root": "/srv/docker"}')
    result = run(tmp_path, capsys, name='10-defaults', settings={'live-restore': True})
    assert result['adopted'] is True
    assert read(tmp_path / 'daemon.json.d' / '00-adopted.json') == {'data-root': '/srv/docker'}
    assert read(tmp_path / 'daemon.json') == {'data-root': '/srv/docker', 'live-restore': True}


@pytest.mark.parametrize('check_mode, failed', [(False, True), (True, False)])
def test_missing_dockerd(tmp_path, capsys, monkeypatch, check_mode, failed):
    monkeypatch.setattr(docker_daemon_config.AnsibleModule, 'get_bin_path', lambda self, name: None)
    result = run(tmp_path, capsys, check_mode=check_mode, name='10-defaults', settings={}, validate=True)
    assert bool(result.get('failed')) is failed
    if failed:
        assert 'dockerd was not found' in result['msg']
    else:
        assert result['validation'] == 'skipped: dockerd not installed'
    assert not (tmp_path / 'daemon.json').exists()


def test_bad_name_fails_cleanly(tmp_path, capsys):
    result = run(tmp_path, capsys, name='../evil', settings={})
    assert result['failed'] is True
    assert 'fragment name' in result['msg']


def test_present_needs_settings(tmp_path, capsys):
    result = run(tmp_path, capsys, name='10-defaults')
    assert result['failed'] is True
    assert 'settings' in result['msg']


@pytest.mark.parametrize('binary, words', [
    ('/nonexistent/dockerd', 'dockerd_path /nonexistent/dockerd is not an executable file'),
    ('/bin/true', '/bin/true is not dockerd: its --help names no daemon option'),
])
def test_a_missing_or_wrong_dockerd_is_named(tmp_path, capsys, binary, words):
    result = run(tmp_path, capsys, name='10-defaults', settings={'debug': True}, validate=True, dockerd_path=binary)
    assert result['failed'] is True and result['msg'].startswith(words)
    assert not (tmp_path / 'daemon.json').exists()
