# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One owner of Docker's daemon.json, merged from named fragments.

Every party that wants a daemon setting (the docker role's defaults, the
operator's options, the NVIDIA role's runtime) writes a fragment; the merged
file is the deep merge of all fragments in name order. The merged file is
checked by the installed dockerd before it replaces the live one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

FRAGMENT_NAME_RE = re.compile(r'^[0-9A-Za-z][0-9A-Za-z_.-]*$')
ADOPTED_FRAGMENT = '00-adopted'

# dockerd flags whose daemon.json key differs from the flag name.
_FLAG_TO_KEY = {
    'add-runtime': 'runtimes',
    'authorization-plugin': 'authorization-plugins',
    'cluster-store-opt': 'cluster-store-opts',
    'default-address-pool': 'default-address-pools',
    'default-ulimit': 'default-ulimits',
    'dns-opt': 'dns-opts',
    'exec-opt': 'exec-opts',
    'host': 'hosts',
    'insecure-registry': 'insecure-registries',
    'label': 'labels',
    'log-opt': 'log-opts',
    'node-generic-resource': 'node-generic-resources',
    'registry-mirror': 'registry-mirrors',
    'storage-opt': 'storage-opts',
}
# Keys daemon.json accepts that have no command-line flag.
_CONFIG_ONLY_KEYS = {'builder': 'map', 'features': 'map', 'proxies': 'map'}
# Flags that are not daemon settings.
_NOT_SETTINGS = {'config-file', 'help', 'validate', 'version'}
# dockerd --help type words and the JSON types they take.
_TYPE_WORDS = {
    None: (bool,),
    'int': (int,),
    'int64': (int,),
    'uint': (int,),
    'uint16': (int,),
    'string': (str,),
    'ip': (str,),
    'bytes': (str, int),
    'duration': (str,),
    'list': (list,),
    'pool-options': (list,),
    'map': (dict,),
    'runtime': (dict,),
    'ulimit': (dict,),
}
# Every dockerd since 17.05 has --data-root: a --help without it is another program's.
_DOCKERD_HELP_RE = re.compile(r'^\s+--data-root\b', re.MULTILINE)
_HELP_LINE_RE = re.compile(r'^\s+(?:-\w, )?--([a-z0-9-]+)(?: ([a-z][a-z0-9-]*))?(?:\s{2,}|$)')


class DaemonConfigError(Exception):
    """A fragment or the merged configuration is not acceptable."""


def check_fragment_name(name):
    if not FRAGMENT_NAME_RE.match(name or ''):
        raise DaemonConfigError(
            'fragment name %r is not valid: use letters, digits, ".", "_" and "-", '
            'starting with a letter or digit (e.g. "60-nvidia")' % (name,))


def deep_merge(base, override, path=(), overridden=None):
    """Merge ``override`` into a copy of ``base``.

    Mappings merge key by key; any other value in ``override`` replaces the
    one in ``base``. Each replaced leaf is appended to ``overridden`` as its
    dotted key path.
    """
    merged = dict(base)
    for key, value in override.items():
        here = path + (key,)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value, here, overridden)
        else:
            if overridden is not None and key in merged and merged[key] != value:
                overridden.append('.'.join(here))
            merged[key] = value
    return merged


def merge_fragments(fragments):
    """Deep-merge ``{name: settings}`` in name order.

    Returns ``(merged, overrides)`` where ``overrides`` lists, for each
    setting a later fragment changed, the key and both fragment names.
    """
    merged = {}
    owners = {}
    overrides = []
    for name in sorted(fragments):
        replaced = []
        merged = deep_merge(merged, fragments[name], overridden=replaced)
        for key in replaced:
            overrides.append({'key': key, 'fragment': owners.get(key), 'overridden_by': name})
        for key in _leaf_paths(fragments[name]):
            owners[key] = name
    return merged, overrides


def _leaf_paths(settings, prefix=()):
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            yield from _leaf_paths(value, prefix + (key,))
        else:
            yield '.'.join(prefix + (key,))


def render(settings):
    """The canonical text of a daemon.json or fragment file."""
    return json.dumps(settings, indent=2, sort_keys=True) + '\n'


def parse_json_file(path, text):
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise DaemonConfigError('%s is not valid JSON: %s' % (path, exc))
    if not isinstance(value, dict):
        raise DaemonConfigError('%s must hold a JSON object, not %s' % (path, type(value).__name__))
    return value


def parse_dockerd_flags(help_text):
    """Map daemon.json keys to dockerd's type word, read from ``dockerd --help``."""
    keys = dict(_CONFIG_ONLY_KEYS)
    for line in help_text.splitlines():
        match = _HELP_LINE_RE.match(line)
        if not match or match.group(1) in _NOT_SETTINGS:
            continue
        flag, type_word = match.groups()
        keys[_FLAG_TO_KEY.get(flag, flag)] = type_word
    return keys


def check_against_flags(settings, keys):
    """Errors for settings the installed dockerd would refuse at start."""
    errors = []
    for key in sorted(settings):
        if key not in keys:
            errors.append('unknown daemon option %r: this dockerd has no such setting' % key)
            continue
        expected = _TYPE_WORDS.get(keys[key])
        value = settings[key]
        if expected is None:
            continue
        if isinstance(value, bool) and bool not in expected:
            wrong = True
        else:
            wrong = not isinstance(value, expected)
        if wrong:
            errors.append('daemon option %r must be a %s, not %s %r' % (
                key, ' or '.join(t.__name__ for t in expected), type(value).__name__, value))
    log_opts = settings.get('log-opts')
    for key, value in sorted(log_opts.items() if isinstance(log_opts, dict) else ()):
        if not isinstance(value, str):
            errors.append('log-opts %r must be a string (dockerd refuses %s values), e.g. "%s"'
                          % (key, type(value).__name__, value))
    return errors


class Dockerd:
    """Asks the installed dockerd whether a daemon.json is acceptable."""

    def __init__(self, run_command, binary):
        self._run = run_command
        self.binary = binary
        self._help = None

    def _help_text(self):
        if self._help is None:
            rc, out, err = self._run([self.binary, '--help'])
            if rc != 0:
                raise DaemonConfigError('%s --help failed (rc %s): %s'
                                        % (self.binary, rc, (err or out).strip() or 'no output'))
            self._help = out + err
            if not _DOCKERD_HELP_RE.search(self._help):
                raise DaemonConfigError('%s is not dockerd: its --help names no daemon option (such as '
                                        '--data-root); set dockerd_path to Docker Engine\'s dockerd'
                                        % self.binary)
        return self._help

    def validate(self, path, settings):
        """Return the method used; raise DaemonConfigError with dockerd's words."""
        if re.search(r'^\s+--validate\b', self._help_text(), re.MULTILINE):
            rc, out, err = self._run([self.binary, '--validate', '--config-file', path])
            if rc != 0:
                raise DaemonConfigError('dockerd refused the merged daemon.json: %s' % (err or out).strip())
            return 'dockerd --validate'
        errors = check_against_flags(settings, parse_dockerd_flags(self._help_text()))
        if errors:
            raise DaemonConfigError('the merged daemon.json would stop dockerd from starting: '
                                    + '; '.join(errors))
        return 'dockerd --help option table'


class DaemonConfig:
    """The fragments directory and the merged daemon.json on one host."""

    def __init__(self, path, fragments_dir):
        self.path = path
        self.fragments_dir = fragments_dir

    def fragment_path(self, name):
        return os.path.join(self.fragments_dir, name + '.json')

    @staticmethod
    def _read(path):
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return handle.read()

    def current_text(self):
        return self._read(self.path)

    def load_fragments(self):
        """Fragments on disk; a daemon.json written before any fragment is adopted."""
        fragments = {}
        if os.path.isdir(self.fragments_dir):
            for entry in sorted(os.listdir(self.fragments_dir)):
                if entry.endswith('.json'):
                    path = os.path.join(self.fragments_dir, entry)
                    fragments[entry[:-len('.json')]] = parse_json_file(path, self._read(path))
            return fragments, False
        existing = self.current_text()
        if existing and parse_json_file(self.path, existing):
            fragments[ADOPTED_FRAGMENT] = parse_json_file(self.path, existing)
            return fragments, True
        return fragments, False

    def plan(self, name, settings):
        """Compute the fragments and merged text after setting (or, with None, removing) ``name``."""
        check_fragment_name(name)
        fragments, adopted = self.load_fragments()
        before_fragment = fragments.get(name)
        if settings is None:
            fragments.pop(name, None)
        else:
            fragments[name] = settings
        merged, overrides = merge_fragments(fragments)
        return {
            'fragments': fragments,
            'adopted': adopted,
            'fragment_changed': before_fragment != settings or adopted,
            'merged': merged,
            'text': render(merged),
            'overrides': overrides,
        }
