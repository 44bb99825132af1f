# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The apps role's services: presets merged in, checked, and turned into
what the Docker modules and the edge's upstreams take.

A service is a dict from the inventory (``apps_services``); its preset (a
dict of the same keys, from the role's data) fills what it leaves out, and
``env`` is merged key by key. Errors name the service and the bad key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.parsing.convert_bool import boolean

try:
    from urllib.parse import quote
except ImportError:  # Python 2, as ansible-test's compile check runs it
    from urllib import quote

from ansible_collections.aiplatform.infra.plugins.module_utils.firewall import inventory_addresses

NAME = re.compile(r'^[a-z][a-z0-9-]{0,40}$')
ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
SHA256 = re.compile(r'^[0-9a-f]{64}$')
GPU_MODES = ('runtime', 'cdi')
# Keys a service may have; the preset's keys are the same.
KEYS = frozenset((
    'name', 'preset', 'version', 'image', 'image_archive', 'port', 'host_port', 'health', 'env',
    'secrets', 'volumes', 'memory', 'cpus', 'gpus', 'groups', 'command', 'reach_from', 'user', 'strategy',
    'green_port', 'migrate', 'database',
))
# A PostgreSQL identifier the role makes without quoting.
PG_NAME = re.compile(r'^[a-z_][a-z0-9_]{0,62}$')
DATABASE_KEYS = frozenset(('name', 'user', 'password', 'extensions', 'env'))
# Where a container finds the platform CA that its database connection
# checks the server against (sslmode=verify-full), mounted read-only.
DATABASE_CA_FILE = '/run/aiplatform/postgresql-ca.crt'
# How a new version replaces the running one: host by host behind the edge,
# or beside it on each host (blue on host_port, green on green_port) and
# switched at the edge.
STRATEGIES = ('rolling', 'blue_green')
COLOURS = ('blue', 'green')
# Where a container finds its secrets (the host's 0400 file, mounted read-only),
# and the shell that reads them into the environment of the image's own
# entry point: no secret is in the container's configuration.
SECRETS_FILE = '/run/aiplatform/secrets.env'
SECRETS_ENTRYPOINT = ['/bin/sh', '-c', 'set -a && . %s && set +a && exec "$@"' % SECRETS_FILE, 'aiplatform-secrets']


class AppsError(ValueError):
    """An inventory's service that cannot be deployed as given."""


def _port(service, key):
    value = service.get(key)
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
        raise AppsError("app %s: %s must be a port number (1-65535), not %r" % (service['name'], key, value))
    return int(value)


def _flag(service, key):
    """A yes/no key as Ansible reads one (a boolean, or its text as -e gives it); false when left out."""
    value = service.get(key)
    try:
        return value not in (None, '') and boolean(value, strict=True)
    except TypeError:
        raise AppsError("app %s: %s must be true or false, not %r" % (service['name'], key, value))


def _database(service):
    """``database`` as {name, user, password, extensions, env}, or None: the app's own PostgreSQL role and database.

    name and user default to the app's name with '-' as '_'; env (the
    variable that gets the connection URL, in the secrets file) to
    DATABASE_URL.
    """
    name, database = service['name'], service.get('database')
    if database in (None, {}):
        return None
    if not isinstance(database, dict):
        raise AppsError("app %s: database must be a dict with at least password, not a %s"
                        % (name, type(database).__name__))
    unknown = sorted(set(database) - DATABASE_KEYS)
    if unknown:
        raise AppsError("app %s: database has unknown keys %s (known: %s)"
                        % (name, ', '.join(unknown), ', '.join(sorted(DATABASE_KEYS))))
    default = name.replace('-', '_')
    found = {'name': database.get('name') or default, 'user': database.get('user') or default,
             'password': database.get('password'), 'env': database.get('env') or 'DATABASE_URL',
             'extensions': database.get('extensions') or []}
    for key in ('name', 'user'):
        if not isinstance(found[key], str) or not PG_NAME.match(found[key]):
            raise AppsError("app %s: database.%s %r: lower-case letters, digits and '_', at most 63"
                            % (name, key, found[key]))
    if not isinstance(found['password'], str) or not found['password']:
        raise AppsError("app %s: database.password is required (a string; vault it)" % name)
    if not isinstance(found['extensions'], list) or not all(isinstance(e, str) and e for e in found['extensions']):
        raise AppsError("app %s: database.extensions must be a list of extension names, not %r"
                        % (name, found['extensions']))
    if not isinstance(found['env'], str) or not ENV_NAME.match(found['env']):
        raise AppsError("app %s: database.env %r is not an environment variable name" % (name, found['env']))
    return found


def _gpus(service):
    """``gpus`` as one of: None, 'all', a count, or a list of device ids (strings)."""
    gpus = service.get('gpus')
    if gpus in (None, '', 0, [], False):
        return None
    if gpus == 'all':
        return 'all'
    if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 0:
        return gpus
    if isinstance(gpus, (list, tuple)) and all(str(g).strip() for g in gpus):
        return [str(g) for g in gpus]
    raise AppsError("app %s: gpus must be 'all', a count or a list of device ids, not %r"
                    % (service['name'], gpus))


def _volume(name, volume):
    """'data:/path[:ro]' as a named volume of the app's own (app-NAME-data); '/host:/path' as given."""
    parts = str(volume).split(':')
    if len(parts) not in (2, 3) or not parts[1].startswith('/') or parts[2:] not in ([], ['ro'], ['rw']):
        raise AppsError("app %s: volume %r is not SOURCE:/path or SOURCE:/path:ro" % (name, volume))
    if not parts[0].startswith('/'):
        if not NAME.match(parts[0]):
            raise AppsError("app %s: volume name %r: lower-case letters, digits and '-'" % (name, parts[0]))
        parts[0] = 'app-%s-%s' % (name, parts[0])
    return ':'.join(parts)


def _archive(service):
    archive = service.get('image_archive')
    if not archive:
        return None
    if not isinstance(archive, dict) or not archive.get('src'):
        raise AppsError("app %s: image_archive needs src (a file on the controller or a URL) and sha256"
                        % service['name'])
    sha256 = str(archive.get('sha256', '')).strip().lower()
    if not SHA256.match(sha256):
        raise AppsError("app %s: image_archive.sha256 must be 64 hex digits, not %r"
                        % (service['name'], archive.get('sha256')))
    src = str(archive['src'])
    return {'src': src, 'sha256': sha256, 'url': bool(re.match(r'^(https?|ftp)://', src)),
            'file': '%s-%s.tar' % (service['name'], sha256[:16])}


def resolve(service, presets):
    """One service with its preset merged in, checked; raises AppsError."""
    if not isinstance(service, dict):
        raise AppsError("an app must be a dict with at least name, version and image, not %r" % (service,))
    name = service.get('name')
    if not isinstance(name, str) or not NAME.match(name):
        raise AppsError("app name %r: lower-case letters, digits and '-', starting with a letter" % (name,))
    unknown = sorted(set(service) - KEYS)
    if unknown:
        raise AppsError("app %s: unknown keys %s (known: %s)" % (name, ', '.join(unknown), ', '.join(sorted(KEYS))))
    preset_name = service.get('preset') or ''
    if preset_name and preset_name not in presets:
        raise AppsError("app %s: no preset %r (presets: %s)" % (name, preset_name, ', '.join(sorted(presets))))
    preset = presets.get(preset_name, {}) if preset_name else {}
    merged = dict(preset)
    merged.update((k, v) for k, v in service.items() if v is not None)
    merged['env'] = dict(preset.get('env') or {}, **(service.get('env') or {}))
    for key in ('version', 'image'):
        if not str(merged.get(key) or '').strip():
            raise AppsError("app %s: %s is required" % (name, key))
    merged['version'] = str(merged['version'])
    merged['port'] = _port(merged, 'port')
    merged['host_port'] = _port(dict(merged, host_port=merged.get('host_port') or merged['port']), 'host_port')
    merged['strategy'] = merged.get('strategy') or 'rolling'
    if merged['strategy'] not in STRATEGIES:
        raise AppsError("app %s: strategy must be one of %s, not %r"
                        % (name, ', '.join(STRATEGIES), merged['strategy']))
    merged['ports'], merged['colours'] = [merged['host_port']], {}
    if merged['strategy'] == 'blue_green':
        if merged.get('green_port') is None:
            merged['green_port'] = merged['host_port'] + 1
        green = merged['green_port'] = _port(merged, 'green_port')
        if green == merged['host_port']:
            raise AppsError("app %s: green_port must differ from host_port (%d)" % (name, green))
        merged['ports'].append(green)
        merged['colours'] = dict((colour, {'container': 'app-%s-%s' % (name, colour), 'host_port': port})
                                 for colour, port in zip(COLOURS, merged['ports']))
    elif merged.get('green_port') is not None:
        raise AppsError("app %s: green_port is for strategy blue_green" % name)
    merged['migrate'] = _flag(merged, 'migrate')
    if merged['migrate'] and merged['strategy'] != 'rolling':
        raise AppsError("app %s: migrate (every instance stopped, then the new version alone) is for strategy "
                        "rolling; blue_green runs both versions at once" % name)
    health = dict({'path': '/health', 'status': 200}, **(merged.get('health') or {}))
    if not str(health['path']).startswith('/'):
        raise AppsError("app %s: health.path must start with '/', not %r" % (name, health['path']))
    merged['health'] = health
    merged['gpus'] = _gpus(merged)
    merged['image_archive'] = _archive(merged)
    merged['groups'] = list(merged.get('groups') or ['app'])
    merged['reach_from'] = list(merged.get('reach_from') or ['edge'])
    merged['secrets'] = dict(merged.get('secrets') or {})
    merged['volumes'] = [_volume(name, v) for v in merged.get('volumes') or []]
    merged['container'] = 'app-%s' % name
    merged['user'] = str(merged['user']) if merged.get('user') not in (None, '') else None
    clash = sorted(set(merged['secrets']) & set(merged['env']))
    if clash:
        raise AppsError("app %s: %s both in env and in secrets" % (name, ', '.join(clash)))
    merged['database'] = _database(merged)
    if merged['database'] and merged['database']['env'] in set(merged['secrets']) | set(merged['env']):
        raise AppsError("app %s: %s is its database's connection URL (database.env), not in env or secrets too"
                        % (name, merged['database']['env']))
    _check_env(name, 'env', merged['env'], show=True)
    _check_env(name, 'secrets', merged['secrets'], show=False)
    merged['env'] = dict((k, _env_value(v)) for k, v in merged['env'].items())
    merged['secrets'] = dict((k, _env_value(v)) for k, v in merged['secrets'].items())
    return merged


def _env_value(value):
    """An environment value as a string: YAML's booleans as true/false, as Compose writes them."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '' if value is None else str(value)


def _check_env(name, key, values, show):
    """Names fit for an env file and values of one line (a secret's value is never named)."""
    for var, value in values.items():
        if not ENV_NAME.match(str(var)):
            raise AppsError("app %s: %s name %r is not an environment variable name" % (name, key, var))
        if '\n' in str(value) or '\r' in str(value):
            raise AppsError("app %s: %s %s has a line break, which an env file cannot hold%s"
                            % (name, key, var, (': %r' % value) if show else ''))


def resolve_all(services, presets, group_names=None, only=None):
    """Every service resolved (names unique); those whose groups meet group_names when given, of only if any.

    ``only`` is a list of app names or a comma-separated string of them
    (``-e apps_only=chat,rag``); empty: every app.
    """
    if not isinstance(services, (list, tuple)):
        raise AppsError("apps_services must be a list of apps, not %r" % (services,))
    resolved = [resolve(s, presets) for s in services]
    names = [s['name'] for s in resolved]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AppsError("apps named more than once: %s" % ', '.join(twice))
    _check_ports(resolved)
    if isinstance(only, str):
        only = [name.strip() for name in only.split(',') if name.strip()]
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise AppsError("apps_only names no app called %s (apps: %s)" % (', '.join(unknown), ', '.join(names)))
    return [s for s in resolved if (group_names is None or set(s['groups']) & set(group_names))
            and (not only or s['name'] in only)]


def _check_ports(services):
    """No host port published by two apps that share a group."""
    for index, service in enumerate(services):
        for other in services[:index]:
            common = set(service['ports']) & set(other['ports'])
            if common and set(service['groups']) & set(other['groups']):
                raise AppsError("apps %s and %s both publish port %s on the hosts of %s"
                                % (other['name'], service['name'], ', '.join(str(p) for p in sorted(common)),
                                   ', '.join(sorted(set(service['groups']) & set(other['groups'])))))


def device_requests(gpus, mode):
    """What docker_container takes for a GPU request: (device_requests, devices)."""
    if mode not in GPU_MODES:
        raise AppsError("apps_gpu_mode must be one of %s, not %r" % (', '.join(GPU_MODES), mode))
    if gpus is None:
        return [], []
    if mode == 'cdi':
        ids = ['all'] if gpus == 'all' else [str(i) for i in range(gpus)] if isinstance(gpus, int) else gpus
        return [], ['nvidia.com/gpu=%s' % i for i in ids]
    request = {'driver': 'nvidia', 'capabilities': [['gpu']]}
    if gpus == 'all':
        request['count'] = -1
    elif isinstance(gpus, int):
        request['count'] = gpus
    else:
        request['device_ids'] = gpus
    return [request], []


def hosts_of(service, groups):
    """The inventory hosts an app runs on, in inventory order, each once."""
    hosts = []
    for group in service['groups']:
        for host in groups.get(group, []):
            if host not in hosts:
                hosts.append(host)
    return hosts


def upstream_servers(services, presets, name, groups, hostvars, host=None, colour=None):
    """``address:port`` of each host the app ``name`` runs on (or of ``host`` alone), for the edge's upstream.

    A blue-green app has a server per colour on each host (blue, then green),
    or that of ``colour`` alone.
    """
    found = [s for s in resolve_all(services, presets) if s['name'] == name]
    if not found:
        raise AppsError("no app named %r in apps_services" % (name,))
    service = found[0]
    if colour is not None and colour not in COLOURS or colour is not None and service['strategy'] != 'blue_green':
        raise AppsError("app %s: no colour %r (strategy %s)" % (name, colour, service['strategy']))
    hosts = hosts_of(service, groups)
    if host is not None:
        if host not in hosts:
            raise AppsError("app %s does not run on %s (its groups: %s)" % (name, host, ', '.join(service['groups'])))
        hosts = [host]
    addresses = inventory_addresses(hosts, hostvars)
    missing = [h for h in hosts if h not in addresses]
    if missing:
        raise AppsError("app %s: no known address for %s (set ansible_host or base_firewall_address)"
                        % (name, ', '.join(missing)))
    ports = [service['colours'][colour]['host_port']] if colour else service['ports']
    return [('[%s]:%d' if ':' in addresses[h][0] else '%s:%d') % (addresses[h][0], port)
            for h in hosts for port in ports]


def firewall_rules(services, presets):
    """The base role's firewall rules for the apps' published ports: each reached only from its reach_from."""
    return [{'name': 'app %s, published by Docker' % s['name'], 'ports': s['ports'],
             'on_groups': s['groups'], 'from': s['reach_from'], 'published': True}
            for s in resolve_all(services, presets)]


def databases(services, presets):
    """The postgresql role's users, databases and pg_hba rules for the apps that have a database.

    Each app's role owns its database alone and may connect to it from the
    app's hosts (its groups) only.
    """
    found = {'users': [], 'databases': [], 'hba_rules': []}
    for service in resolve_all(services, presets):
        database = service['database']
        if database is None:
            continue
        found['users'].append({'name': database['user'], 'password': database['password']})
        found['databases'].append({'name': database['name'], 'owner': database['user'],
                                   'extensions': list(database['extensions'])})
        found['hba_rules'].append({'databases': [database['name']], 'users': [database['user']],
                                   'hosts': list(service['groups'])})
    return found


def database_url(service, address, port):
    """The app's libpq URL to its database on address:port, over TLS checked against the mounted platform CA."""
    database = service['database']
    if database is None:
        raise AppsError("app %s has no database" % service['name'])
    host = '[%s]' % address if ':' in address else address
    return 'postgresql://%s:%s@%s:%d/%s?sslmode=verify-full&sslrootcert=%s' % (
        database['user'], quote(database['password'], safe=''), host, int(port), database['name'], DATABASE_CA_FILE)


def container_start(service, image_config):
    """How the container starts: entrypoint, command, where its secrets file and CA are mounted, the uid that owns them.

    Without secrets, the image's own entry point and the service's command
    (None: the image's). With secrets, ``/bin/sh`` sources the mounted
    secrets file, then runs the image's entry point and command (the
    service's command instead of the image's, as Docker does): the image
    needs a shell, and the file belongs to the user the container runs as
    (``user``, else the image's), which must be numeric. ``image_config`` is
    the image's ``Config`` (None when the image is not on the host yet, as
    in check mode). An app with a database has a secrets file (its
    connection URL is a secret) and the platform CA mounted (``ca_mount``).
    """
    name = service['name']
    command = list(service['command']) if service.get('command') else None
    ca_mount = DATABASE_CA_FILE if service.get('database') else None
    if not service['secrets'] and not service.get('database'):
        return {'entrypoint': None, 'command': command, 'mount': None, 'ca_mount': None, 'owner': 0}
    config = image_config or {}
    user = service['user'] if service['user'] is not None else (config.get('User') or '')
    uid = user.split(':')[0]
    if uid and not uid.isdigit():
        raise AppsError("app %s: its image runs as user %r; set user to a numeric UID[:GID] so that its secrets "
                        "file can belong to it" % (name, user))
    run = list(config.get('Entrypoint') or []) + (command or list(config.get('Cmd') or []))
    if not run and image_config is not None:
        raise AppsError("app %s: its image %s has neither an entry point nor a command, and the app gives no "
                        "command" % (name, service['image']))
    return {'entrypoint': list(SECRETS_ENTRYPOINT), 'command': run, 'mount': SECRETS_FILE, 'ca_mount': ca_mount,
            'owner': int(uid or 0)}


def colours_in_use(service, containers, recorded, version):
    """Which colours of a blue-green app run, which is live, and where ``version`` is or goes.

    ``containers`` maps each colour to its container as docker_container_info
    gives it (None when there is none); ``recorded`` is the colour the host's
    release record names; ``version`` the version to run. Returns running
    (the colours whose container runs), versions (their version labels), live
    (the recorded colour when it runs, else the first that runs, else None),
    candidate (the running colour that runs ``version``, the live one first,
    else None: it may already serve it, as a canary does) and idle (the
    colour that is not live).
    """
    if service['strategy'] != 'blue_green':
        raise AppsError("app %s: strategy %s has no colours" % (service['name'], service['strategy']))
    running = [c for c in COLOURS if ((containers.get(c) or {}).get('State') or {}).get('Running')]
    versions = dict((c, ((containers[c].get('Config') or {}).get('Labels') or {}).get('aiplatform.app.version'))
                    for c in running)
    live = recorded if recorded in running else (running[0] if running else None)
    ordered = ([live] if live else []) + [c for c in running if c != live]
    candidate = next((c for c in ordered if versions[c] == str(version)), None)
    idle = COLOURS[1] if live == COLOURS[0] else COLOURS[0]
    return {'running': running, 'versions': versions, 'live': live, 'candidate': candidate, 'idle': idle}
