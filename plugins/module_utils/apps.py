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

from ansible_collections.aiplatform.infra.plugins.module_utils.firewall import inventory_addresses

NAME = re.compile(r'^[a-z][a-z0-9-]{0,40}$')
ENV_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
SHA256 = re.compile(r'^[0-9a-f]{64}$')
GPU_MODES = ('runtime', 'cdi')
# Keys a service may have; the preset's keys are the same.
KEYS = frozenset((
    'name', 'preset', 'version', 'image', 'image_archive', 'port', 'host_port', 'health', 'env',
    'secrets', 'volumes', 'memory', 'cpus', 'gpus', 'groups', 'command', 'reach_from', 'user',
))
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


def resolve_all(services, presets, group_names=None):
    """Every service resolved (names unique); those whose groups meet group_names when given."""
    if not isinstance(services, (list, tuple)):
        raise AppsError("apps_services must be a list of apps, not %r" % (services,))
    resolved = [resolve(s, presets) for s in services]
    names = [s['name'] for s in resolved]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AppsError("apps named more than once: %s" % ', '.join(twice))
    if group_names is None:
        return resolved
    return [s for s in resolved if set(s['groups']) & set(group_names)]


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


def upstream_servers(services, presets, name, groups, hostvars, host=None):
    """``address:port`` of each host the app ``name`` runs on (or of ``host`` alone), for the edge's upstream."""
    found = [s for s in resolve_all(services, presets) if s['name'] == name]
    if not found:
        raise AppsError("no app named %r in apps_services" % (name,))
    service = found[0]
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
    return [('[%s]:%d' if ':' in addresses[h][0] else '%s:%d') % (addresses[h][0], service['host_port'])
            for h in hosts]


def firewall_rules(services, presets):
    """The base role's firewall rules for the apps' published ports: each reached only from its reach_from."""
    return [{'name': 'app %s, published by Docker' % s['name'], 'ports': [s['host_port']],
             'on_groups': s['groups'], 'from': s['reach_from'], 'published': True}
            for s in resolve_all(services, presets)]


def container_start(service, image_config):
    """How the container starts: entrypoint, command, where its secrets file is mounted and the uid that owns it.

    Without secrets, the image's own entry point and the service's command
    (None: the image's). With secrets, ``/bin/sh`` sources the mounted
    secrets file, then runs the image's entry point and command (the
    service's command instead of the image's, as Docker does): the image
    needs a shell, and the file belongs to the user the container runs as
    (``user``, else the image's), which must be numeric. ``image_config`` is
    the image's ``Config`` (None when the image is not on the host yet, as
    in check mode).
    """
    name = service['name']
    command = list(service['command']) if service.get('command') else None
    if not service['secrets']:
        return {'entrypoint': None, 'command': command, 'mount': None, 'owner': 0}
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
    return {'entrypoint': list(SECRETS_ENTRYPOINT), 'command': run, 'mount': SECRETS_FILE, 'owner': int(uid or 0)}
