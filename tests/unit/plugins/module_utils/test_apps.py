# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.apps import (
    DATABASE_CA_FILE,
    SECRETS_FILE,
    AppsError,
    colours_in_use,
    container_start,
    database_url,
    databases,
    device_requests,
    firewall_rules,
    resolve,
    resolve_all,
    upstream_servers,
)

PRESETS = {
    'webui': {'port': 8080, 'volumes': ['data:/app/data'], 'env': {'A': '1', 'B': '2'}},
    'llm': {'port': 11434, 'health': {'path': '/api/version'}, 'gpus': 'all', 'groups': ['gpu']},
}
SHA = 'ab' * 32


def app(**keys):
    return dict({'name': 'chat', 'version': '1', 'image': 'repo/chat:1'}, **keys)


def test_the_preset_fills_what_the_app_leaves_out():
    found = resolve(app(preset='webui', env={'B': 'x', 'C': '3'}), PRESETS)
    assert found['port'] == found['host_port'] == 8080
    assert found['env'] == {'A': '1', 'B': 'x', 'C': '3'}
    assert found['volumes'] == ['app-chat-data:/app/data']
    assert found['health'] == {'path': '/health', 'status': 200}
    assert found['groups'] == ['app']
    assert found['container'] == 'app-chat'
    assert found['gpus'] is None and found['image_archive'] is None


def test_the_apps_keys_win_over_the_presets():
    found = resolve(app(preset='llm', port=9000, host_port=19000, gpus=['GPU-1'], groups=['app']), PRESETS)
    assert (found['port'], found['host_port'], found['gpus'], found['groups']) == (9000, 19000, ['GPU-1'], ['app'])
    assert found['health']['path'] == '/api/version'


def test_an_archive_is_checked_and_named_by_its_digest():
    found = resolve(app(port=80, image_archive={'src': 'https://x/chat.tar', 'sha256': SHA.upper()}), PRESETS)
    assert found['image_archive'] == {'src': 'https://x/chat.tar', 'sha256': SHA, 'url': True,
                                      'file': 'chat-%s.tar' % SHA[:16]}
    assert resolve(app(port=80, image_archive={'src': '/srv/chat.tar', 'sha256': SHA}), PRESETS)['image_archive']['url'] is False


@pytest.mark.parametrize('service, message', [
    ('not a dict', 'must be a dict'),
    (app(name='Chat', port=80), "app name 'Chat'"),
    (app(port=80, colour='blue'), 'app chat: unknown keys colour'),
    (app(preset='nope', port=80), "app chat: no preset 'nope' (presets: llm, webui)"),
    (app(version='', port=80), 'app chat: version is required'),
    (app(), 'app chat: port must be a port number'),
    (app(port=70000), 'app chat: port must be a port number (1-65535), not 70000'),
    (app(port=80, host_port=True), 'host_port must be a port number'),
    (app(port=80, health={'path': 'health'}), "health.path must start with '/'"),
    (app(port=80, gpus='some'), "gpus must be 'all', a count or a list of device ids"),
    (app(port=80, gpus=-1), 'gpus must be'),
    (app(port=80, image_archive={'src': '/a.tar'}), 'image_archive.sha256 must be 64 hex digits'),
    (app(port=80, image_archive={'sha256': SHA}), 'image_archive needs src'),
    (app(port=80, volumes=['data']), "volume 'data' is not SOURCE:/path"),
    (app(port=80, volumes=['Data:/x']), "volume name 'Data'"),
    (app(port=80, volumes=['d:/x:rx']), 'is not SOURCE:/path'),
    (app(port=80, env={'K': 1}, secrets={'K': 2}), 'app chat: K both in env and in secrets'),
    (app(port=80, env={'BAD-NAME': 1}), "env name 'BAD-NAME'"),
    (app(port=80, env={'K': 'a\nb'}), "env K has a line break, which an env file cannot hold: 'a\\nb'"),
    (app(port=80, strategy='canary'), "app chat: strategy must be one of rolling, blue_green, not 'canary'"),
    (app(port=80, strategy='blue_green', green_port=80), 'app chat: green_port must differ from host_port (80)'),
    (app(port=80, strategy='blue_green', green_port=0), 'app chat: green_port must be a port number'),
    (app(port=80, green_port=81), 'app chat: green_port is for strategy blue_green'),
    (app(port=80, database='chat'), 'app chat: database must be a dict with at least password, not a str'),
    (app(port=80, database={'password': 'p', 'host': 'x'}), 'app chat: database has unknown keys host'),
    (app(port=80, database={'password': ''}), 'app chat: database.password is required'),
    (app(port=80, database={'password': 'p', 'name': 'Chat'}), "app chat: database.name 'Chat': lower-case"),
    (app(port=80, database={'password': 'p', 'user': 'a-b'}), "app chat: database.user 'a-b'"),
    (app(port=80, database={'password': 'p', 'extensions': 'vector'}), 'database.extensions must be a list'),
    (app(port=80, database={'password': 'p', 'env': 'DB URL'}), "database.env 'DB URL' is not an environment"),
    (app(port=80, database={'password': 'p'}, secrets={'DATABASE_URL': 'x'}),
     "app chat: DATABASE_URL is its database's connection URL (database.env), not in env or secrets too"),
    (app(port=80, migrate='sometimes'), "app chat: migrate must be true or false, not 'sometimes'"),
    (app(port=80, strategy='blue_green', migrate=True), 'app chat: migrate (every instance stopped, then the new '
                                                        'version alone) is for strategy rolling'),
])
def test_errors_name_the_app_and_the_key(service, message):
    with pytest.raises(AppsError, match=None) as caught:
        resolve(service, PRESETS)
    assert message in str(caught.value)


def test_a_secret_with_a_line_break_is_refused_without_its_value():
    with pytest.raises(AppsError) as caught:
        resolve(app(port=80, secrets={'KEY': 'hunter2\nmore'}), PRESETS)
    assert 'secrets KEY has a line break' in str(caught.value)
    assert 'hunter2' not in str(caught.value)


def test_resolve_all_keeps_the_hosts_apps_and_refuses_a_name_twice():
    services = [app(port=80), app(name='llm', preset='llm')]
    assert [s['name'] for s in resolve_all(services, PRESETS, ['app'])] == ['chat']
    assert [s['name'] for s in resolve_all(services, PRESETS, ['gpu', 'app'])] == ['chat', 'llm']
    assert len(resolve_all(services, PRESETS)) == 2
    with pytest.raises(AppsError, match='apps named more than once: chat'):
        resolve_all([app(port=80), app(port=81)], PRESETS)
    with pytest.raises(AppsError, match='must be a list'):
        resolve_all({'name': 'chat'}, PRESETS)


def test_only_the_apps_named():
    services = [app(port=80), app(name='rag', port=81), app(name='llm', preset='llm')]
    assert [s['name'] for s in resolve_all(services, PRESETS, ['app'], ['rag'])] == ['rag']
    assert [s['name'] for s in resolve_all(services, PRESETS, None, 'chat, llm')] == ['chat', 'llm']
    assert len(resolve_all(services, PRESETS, None, [])) == 3
    with pytest.raises(AppsError, match='apps_only names no app called nope \\(apps: chat, rag, llm\\)'):
        resolve_all(services, PRESETS, None, 'rag,nope')


@pytest.mark.parametrize('value, migrate', [
    (None, False), ('', False), (False, False), ('false', False), ('No', False),
    (True, True), ('true', True), ('True', True), ('yes', True),
])
def test_migrate_is_a_flag_as_yaml_or_an_extra_var_gives_it(value, migrate):
    assert resolve(app(port=80, migrate=value), PRESETS)['migrate'] is migrate


def test_a_blue_green_app_has_a_container_and_a_port_per_colour():
    rolling = resolve(app(port=80), PRESETS)
    assert (rolling['strategy'], rolling['ports'], rolling['colours']) == ('rolling', [80], {})
    blue_green = resolve(app(port=80, host_port=8090, strategy='blue_green'), PRESETS)
    assert blue_green['ports'] == [8090, 8091]
    assert blue_green['colours'] == {'blue': {'container': 'app-chat-blue', 'host_port': 8090},
                                     'green': {'container': 'app-chat-green', 'host_port': 8091}}
    assert resolve(app(port=80, strategy='blue_green', green_port=9000), PRESETS)['ports'] == [80, 9000]


def test_two_apps_on_one_host_never_publish_one_port():
    with pytest.raises(AppsError, match='apps chat and rag both publish port 8081 on the hosts of app'):
        resolve_all([app(port=80, host_port=8080, strategy='blue_green'), app(name='rag', port=8081)], PRESETS)
    apart = [app(port=80, groups=['app']), app(name='rag', port=80, groups=['rag'])]
    assert [s['ports'] for s in resolve_all(apart, PRESETS)] == [[80], [80]]


@pytest.mark.parametrize('gpus, mode, expected', [
    (None, 'runtime', ([], [])),
    ('all', 'runtime', ([{'driver': 'nvidia', 'capabilities': [['gpu']], 'count': -1}], [])),
    (2, 'runtime', ([{'driver': 'nvidia', 'capabilities': [['gpu']], 'count': 2}], [])),
    (['0', 'GPU-x'], 'runtime', ([{'driver': 'nvidia', 'capabilities': [['gpu']], 'device_ids': ['0', 'GPU-x']}], [])),
    ('all', 'cdi', ([], ['nvidia.com/gpu=all'])),
    (2, 'cdi', ([], ['nvidia.com/gpu=0', 'nvidia.com/gpu=1'])),
    (['GPU-x'], 'cdi', ([], ['nvidia.com/gpu=GPU-x'])),
])
def test_gpu_requests_the_way_docker_was_set_up(gpus, mode, expected):
    assert device_requests(gpus, mode) == expected


def test_an_unknown_gpu_mode_is_refused():
    with pytest.raises(AppsError, match="apps_gpu_mode must be one of runtime, cdi, not 'nvidia'"):
        device_requests('all', 'nvidia')


HOSTVARS = {'a1': {'ansible_host': '10.0.0.1'}, 'a2': {'base_firewall_address': 'fd00::2'}, 'a3': {}}


def test_upstream_servers_in_inventory_order():
    groups = {'app': ['a1', 'a2'], 'gpu': ['a2']}
    services = [app(port=8080, host_port=18080, groups=['app', 'gpu'])]
    assert upstream_servers(services, PRESETS, 'chat', groups, HOSTVARS) == ['10.0.0.1:18080', '[fd00::2]:18080']
    assert upstream_servers(services, PRESETS, 'chat', groups, HOSTVARS, 'a2') == ['[fd00::2]:18080']


def test_a_blue_green_app_has_a_server_per_colour_on_each_host():
    groups = {'app': ['a1', 'a2']}
    services = [app(port=8080, strategy='blue_green')]
    assert upstream_servers(services, PRESETS, 'chat', groups, HOSTVARS) == [
        '10.0.0.1:8080', '10.0.0.1:8081', '[fd00::2]:8080', '[fd00::2]:8081']
    assert upstream_servers(services, PRESETS, 'chat', groups, HOSTVARS, 'a1', 'green') == ['10.0.0.1:8081']
    with pytest.raises(AppsError, match="app chat: no colour 'red' \\(strategy blue_green\\)"):
        upstream_servers(services, PRESETS, 'chat', groups, HOSTVARS, 'a1', 'red')
    with pytest.raises(AppsError, match="app chat: no colour 'blue' \\(strategy rolling\\)"):
        upstream_servers([app(port=80)], PRESETS, 'chat', groups, HOSTVARS, 'a1', 'blue')


@pytest.mark.parametrize('name, host, groups, message', [
    ('other', None, {'app': ['a1']}, "no app named 'other'"),
    ('chat', 'a9', {'app': ['a1']}, 'app chat does not run on a9 (its groups: app)'),
    ('chat', None, {'app': ['a1', 'a3']}, 'app chat: no known address for a3'),
])
def test_upstream_errors(name, host, groups, message):
    with pytest.raises(AppsError) as caught:
        upstream_servers([app(port=80)], PRESETS, name, groups, HOSTVARS, host)
    assert message in str(caught.value)


def test_each_app_is_reached_only_from_its_reach_from_the_edge_by_default():
    rules = firewall_rules([app(preset='webui'), app(name='llm', preset='llm', host_port=8000, reach_from=['app', 'edge'])],
                           PRESETS)
    assert rules == [
        {'name': 'app chat, published by Docker', 'ports': [8080], 'on_groups': ['app'], 'from': ['edge'],
         'published': True},
        {'name': 'app llm, published by Docker', 'ports': [8000], 'on_groups': ['gpu'], 'from': ['app', 'edge'],
         'published': True},
    ]


IMAGE = {'Entrypoint': ['/bin/ollama'], 'Cmd': ['serve'], 'User': ''}


def test_without_secrets_the_image_starts_as_it_would():
    start = container_start(resolve(app(port=80, command=['serve', '-v']), PRESETS), IMAGE)
    assert start == {'entrypoint': None, 'command': ['serve', '-v'], 'mount': None, 'ca_mount': None, 'owner': 0}


def test_secrets_are_sourced_by_a_shell_before_the_images_own_entry_point():
    start = container_start(resolve(app(port=80, secrets={'KEY': 's3cret'}), PRESETS), IMAGE)
    assert start['entrypoint'][:2] == ['/bin/sh', '-c'] and SECRETS_FILE in start['entrypoint'][2]
    assert start['command'] == ['/bin/ollama', 'serve'] and start['owner'] == 0
    assert start['mount'] == SECRETS_FILE
    assert 's3cret' not in repr(start)


def test_the_apps_command_replaces_the_images_and_its_user_owns_the_file():
    service = resolve(app(port=80, secrets={'K': 'v'}, command=['run'], user=1000), PRESETS)
    start = container_start(service, dict(IMAGE, User='65534'))
    assert (start['command'], service['user'], start['owner']) == (['/bin/ollama', 'run'], '1000', 1000)
    assert container_start(resolve(app(port=80, secrets={'K': 'v'}), PRESETS),
                           {'Cmd': ['python3'], 'User': '65534:65534'})['owner'] == 65534


def test_an_image_unknown_yet_check_mode_still_plans():
    assert container_start(resolve(app(port=80, secrets={'K': 'v'}), PRESETS), None)['command'] == []


@pytest.mark.parametrize('config, message', [
    ({'Cmd': ['x'], 'User': 'webui'}, "its image runs as user 'webui'; set user to a numeric UID"),
    ({'User': ''}, 'its image repo/chat:1 has neither an entry point nor a command'),
])
def test_a_start_that_cannot_read_its_secrets_is_refused(config, message):
    with pytest.raises(AppsError, match=message):
        container_start(resolve(app(port=80, secrets={'K': 'v'}), PRESETS), config)


def test_env_values_are_strings_as_compose_writes_them():
    found = resolve(app(port=80, env={'ON': True, 'N': 3}, secrets={'OFF': False}), PRESETS)
    assert found['env'] == {'ON': 'true', 'N': '3'} and found['secrets'] == {'OFF': 'false'}


def _container(version, running=True):
    return {'State': {'Running': running}, 'Config': {'Labels': {'aiplatform.app.version': version}}}


BLUE_GREEN = resolve(app(port=80, strategy='blue_green'), PRESETS)


@pytest.mark.parametrize('containers, recorded, version, expected', [
    # Nothing runs yet: blue first.
    ({'blue': None, 'green': None}, None, '1', ([], None, None, 'blue')),
    # Blue serves 1: 1 is there already, 2 goes to green.
    ({'blue': _container('1'), 'green': None}, 'blue', '1', (['blue'], 'blue', 'blue', 'green')),
    ({'blue': _container('1'), 'green': _container('0', running=False)}, 'blue', '2', (['blue'], 'blue', None, 'green')),
    # A canary: green runs 2 beside blue's 1, green recorded; promoting 2 or going back to 1 starts nothing.
    ({'blue': _container('1'), 'green': _container('2')}, 'green', '2', (['blue', 'green'], 'green', 'green', 'blue')),
    ({'blue': _container('1'), 'green': _container('2')}, 'green', '1', (['blue', 'green'], 'green', 'blue', 'blue')),
    # The recorded colour is gone: the one that runs is live.
    ({'blue': None, 'green': _container('3')}, 'blue', '4', (['green'], 'green', None, 'blue')),
])
def test_colours_in_use(containers, recorded, version, expected):
    found = colours_in_use(BLUE_GREEN, containers, recorded, version)
    assert (found['running'], found['live'], found['candidate'], found['idle']) == expected


def test_a_rolling_app_has_no_colours():
    with pytest.raises(AppsError, match='app chat: strategy rolling has no colours'):
        colours_in_use(resolve(app(port=80), PRESETS), {}, None, '1')


def test_an_apps_database_is_its_own_role_and_database_reached_from_its_hosts_alone():
    services = [app(name='open-webui', port=80, database={'password': 'pw', 'extensions': ['vector']}),
                app(name='rag', port=81, groups=['rag'], database={'password': 'pw2', 'name': 'docs', 'user': 'ragger'}),
                app(name='plain', port=82)]
    assert databases(services, PRESETS) == {
        'users': [{'name': 'open_webui', 'password': 'pw'}, {'name': 'ragger', 'password': 'pw2'}],
        'databases': [{'name': 'open_webui', 'owner': 'open_webui', 'extensions': ['vector']},
                      {'name': 'docs', 'owner': 'ragger', 'extensions': []}],
        'hba_rules': [{'databases': ['open_webui'], 'users': ['open_webui'], 'hosts': ['app']},
                      {'databases': ['docs'], 'users': ['ragger'], 'hosts': ['rag']}],
    }
    assert databases([app(port=80)], PRESETS) == {'users': [], 'databases': [], 'hba_rules': []}


def test_the_database_url_checks_the_server_against_the_mounted_ca_and_encodes_the_password():
    service = resolve(app(port=80, database={'password': 'p@ss/w:rd %'}), PRESETS)
    assert database_url(service, '10.0.0.21', 5432) == (
        'postgresql://chat:p%40ss%2Fw%3Ard%20%25@10.0.0.21:5432/chat?sslmode=verify-full&sslrootcert='
        + DATABASE_CA_FILE)
    assert '@[fd00::21]:6432/chat?' in database_url(service, 'fd00::21', 6432)
    with pytest.raises(AppsError, match='app chat has no database'):
        database_url(resolve(app(port=80), PRESETS), '10.0.0.21', 5432)


def test_an_app_with_a_database_reads_a_secrets_file_and_gets_the_ca_mounted():
    start = container_start(resolve(app(port=80, database={'password': 'pw'}), PRESETS), IMAGE)
    assert (start['mount'], start['ca_mount']) == (SECRETS_FILE, DATABASE_CA_FILE)
    assert start['entrypoint'][:2] == ['/bin/sh', '-c']
