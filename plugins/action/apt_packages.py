# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""aiplatform.infra.apt_packages: ask dpkg, run ansible.builtin.apt only for a change."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.aiplatform.infra.plugins.module_utils.arguments import crashing_options
from ansible_collections.aiplatform.infra.plugins.module_utils.deb_packages import (
    parse_status,
    pending,
    query_argv,
)

# Options handed to ansible.builtin.apt as they are.
APT_OPTIONS = {
    'allow_downgrade': {'type': 'bool'},
    'cache_valid_time': {'type': 'int'},
    'default_release': {'type': 'str'},
    'install_recommends': {'type': 'bool'},
    'purge': {'type': 'bool'},
    'update_cache': {'type': 'bool'},
}
ARGUMENT_SPEC = dict(
    APT_OPTIONS,
    name={'type': 'list', 'elements': 'str', 'required': True, 'aliases': ['pkg', 'package']},
    state={'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        problems = crashing_options(ARGUMENT_SPEC, self._task.args)
        if problems:
            raise AnsibleActionFail('; '.join(problems.values()))
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args['cache_valid_time'] is not None and args['cache_valid_time'] < 0:
            raise AnsibleActionFail('cache_valid_time must be 0 or more seconds, not %d' % args['cache_valid_time'])
        argv = query_argv(args['name'])
        # Without a plain name, dpkg-query would list every package: apt decides alone.
        query = {'rc': 0, 'stdout': '', 'stderr': ''}
        if argv:
            query = self._low_level_execute_command(
                'LC_ALL=C ' + ' '.join(shlex.quote(arg) for arg in argv), sudoable=False)
        # dpkg-query exits 1 when a name is unknown to dpkg: that one is to install.
        if query['rc'] not in (0, 1):
            result.update(failed=True, rc=query['rc'], stderr=query['stderr'],
                          msg='dpkg-query could not read the packages\' status: %s'
                              % (query['stderr'].strip() or 'exit status %d' % query['rc']))
            return result

        todo = pending(args['name'], parse_status(query['stdout']), args['state'], args['purge'])
        if not todo:
            result.update(changed=False, packages=[])
            return result

        module_args = dict((key, args[key]) for key in APT_OPTIONS if args[key] is not None)
        module_args.update(name=todo, state=args['state'])
        result.update(self._execute_module(module_name='ansible.builtin.apt',
                                           module_args=module_args, task_vars=task_vars))
        result['packages'] = todo
        return result
