#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: docker_daemon_config
short_description: Merge-safe owner of Docker's daemon.json
version_added: 0.1.0
description:
  - Keeps Docker's C(daemon.json) as the deep merge of named fragments, so that
    several roles (the docker role's defaults, the operator's options, the
    NVIDIA runtime) contribute settings without overwriting one another.
  - Each fragment is stored as C(<fragments_dir>/<name>.json). Fragments merge
    in name order; mappings merge key by key and any other value of a later
    fragment replaces the earlier one. The module reports every replaced key.
  - The merged file is checked by the installed C(dockerd) before it replaces
    the live file, with C(dockerd --validate) where the daemon has it (Docker
    23 and later), otherwise against the option table that C(dockerd --help)
    prints. A refused configuration fails the task and leaves both files as
    they were.
  - A C(daemon.json) written before this module managed the host is kept as the
    fragment C(00-adopted) the first time the module runs.
  - The module does not restart Docker; notify a handler on change.
author:
  - aiplatform.infra maintainers (@aiplatform)
attributes:
  check_mode:
    support: full
    description: Computes and validates the merged file without writing it.
  diff_mode:
    support: full
    description: Shows the merged C(daemon.json) before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the Docker host.
options:
  name:
    description:
      - Name of the fragment, for example C(10-defaults) or C(60-nvidia).
      - Letters, digits, C(.), C(_) and C(-), starting with a letter or digit.
      - The name orders the merge; a later name wins on a conflicting key.
    type: str
    required: true
  settings:
    description:
      - The daemon settings this fragment contributes, as in C(daemon.json).
      - Required when O(state=present).
    type: dict
  state:
    description:
      - V(present) writes the fragment, V(absent) removes it; both re-render the merged file.
    type: str
    choices: [present, absent]
    default: present
  path:
    description: The merged file that dockerd reads.
    type: path
    default: /etc/docker/daemon.json
  fragments_dir:
    description: Directory that holds the fragments.
    type: path
    default: /etc/docker/daemon.json.d
  validate:
    description:
      - Check the merged file with the installed dockerd before writing it.
      - When dockerd is not installed yet the task fails, unless in check mode
        where validation is skipped with a warning.
    type: bool
    default: true
  dockerd_path:
    description: The dockerd binary used for validation; looked up on the PATH when unset.
    type: path
notes:
  - Settings given both as a C(dockerd) command-line flag and in C(daemon.json)
    stop the daemon; Debian's and Docker's units pass C(-H fd://), so set
    C(hosts) only together with a unit override.
seealso:
  - name: Docker daemon configuration file
    description: Every setting daemon.json accepts.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
'''

EXAMPLES = r'''
- name: Role defaults for every Docker host
  aiplatform.infra.docker_daemon_config:
    name: 10-defaults
    settings:
      live-restore: true
      log-driver: json-file
      log-opts:
        max-size: 10m
        max-file: "3"
  notify: Restart docker

- name: Add the NVIDIA runtime without touching the other settings
  aiplatform.infra.docker_daemon_config:
    name: 60-nvidia
    settings:
      runtimes:
        nvidia:
          path: nvidia-container-runtime
          runtimeArgs: []

- name: Drop a fragment
  aiplatform.infra.docker_daemon_config:
    name: 60-nvidia
    state: absent
'''

RETURN = r'''
config:
  description: The merged daemon settings, as written (or as they would be in check mode).
  returned: always
  type: dict
  sample: {"live-restore": true, "log-driver": "json-file", "log-opts": {"max-file": "3", "max-size": "10m"}}
fragments:
  description: Names of the fragments merged, in merge order.
  returned: always
  type: list
  elements: str
  sample: ["10-defaults", "50-operator", "60-nvidia"]
overrides:
  description: Settings that a later fragment replaced.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "log-opts.max-size", "fragment": "10-defaults", "overridden_by": "50-operator"}]
adopted:
  description: Whether a daemon.json written by hand before was kept as the fragment C(00-adopted).
  returned: always
  type: bool
  sample: false
validation:
  description: How the merged file was checked, or why it was not.
  returned: always
  type: str
  sample: dockerd --validate
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.aiplatform.infra.plugins.module_utils.docker_daemon import (
    ADOPTED_FRAGMENT,
    DaemonConfig,
    DaemonConfigError,
    Dockerd,
    render,
)


ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    settings=dict(type='dict'),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    path=dict(type='path', default='/etc/docker/daemon.json'),
    fragments_dir=dict(type='path', default='/etc/docker/daemon.json.d'),
    validate=dict(type='bool', default=True),
    dockerd_path=dict(type='path'),
)


def _validate(module, plan):
    if not module.params['validate']:
        return 'disabled'
    binary = module.params['dockerd_path'] or module.get_bin_path('dockerd')
    if not binary:
        if module.check_mode:
            module.warn('dockerd is not installed yet: the merged daemon.json was not validated')
            return 'skipped: dockerd not installed'
        raise DaemonConfigError('dockerd was not found: install Docker Engine first, or set validate=false')
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise DaemonConfigError('dockerd_path %s is not an executable file: point it at Docker Engine\'s dockerd, '
                                'or set validate=false' % binary)
    fd, candidate = tempfile.mkstemp(dir=module.tmpdir, suffix='.json')
    with os.fdopen(fd, 'w') as handle:
        handle.write(plan['text'])
    return Dockerd(module.run_command, binary).validate(candidate, plan['merged'])


def _write(module, path, text, mode):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    module.atomic_move(tmp, path)
    os.chmod(path, mode)


def _apply(module, daemon, plan):
    name = module.params['name']
    if module.params['state'] == 'absent':
        if os.path.exists(daemon.fragment_path(name)):
            os.remove(daemon.fragment_path(name))
    if plan['adopted']:
        _write(module, daemon.fragment_path(ADOPTED_FRAGMENT), render(plan['fragments'][ADOPTED_FRAGMENT]), 0o644)
    if module.params['state'] == 'present' and plan['fragment_changed']:
        _write(module, daemon.fragment_path(name), render(module.params['settings']), 0o644)
    _write(module, daemon.path, plan['text'], 0o644)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[('state', 'present', ['settings'])],
        supports_check_mode=True,
    )
    params = module.params
    daemon = DaemonConfig(params['path'], params['fragments_dir'])
    try:
        settings = params['settings'] if params['state'] == 'present' else None
        plan = daemon.plan(params['name'], settings)
        before = daemon.current_text()
        fragment_on_disk = os.path.exists(daemon.fragment_path(params['name']))
        changed = (before != plan['text'] or plan['adopted']
                   or (params['state'] == 'present' and plan['fragment_changed'])
                   or (params['state'] == 'absent' and fragment_on_disk))
        validation = 'unchanged'
        if changed:
            validation = _validate(module, plan)
            if not module.check_mode:
                _apply(module, daemon, plan)
    except DaemonConfigError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg='could not manage %s: %s' % (params['path'], exc))

    result = dict(
        changed=changed,
        config=plan['merged'],
        fragments=sorted(plan['fragments']),
        overrides=plan['overrides'],
        adopted=plan['adopted'],
        validation=validation,
    )
    if module._diff:
        result['diff'] = dict(before=before or '', after=plan['text'],
                              before_header=params['path'], after_header=params['path'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
