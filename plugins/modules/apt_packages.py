#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: apt_packages
short_description: Install or remove Debian packages, asking dpkg before apt
version_added: 0.1.0
description:
  - Makes sure Debian packages are installed (O(state=present)) or removed
    (O(state=absent)), as M(ansible.builtin.apt) does, but asks C(dpkg-query)
    first and runs M(ansible.builtin.apt) only for the packages that would
    change.
  - Opening apt's cache costs about a quarter of a second of CPU on every
    run; C(dpkg-query) answers in milliseconds. When every package is
    already as asked, apt does not run at all, so neither does its cache
    update (O(update_cache), O(cache_valid_time)) on a run that changes
    nothing.
  - A name that is not a plain package name (a wildcard, an architecture
    qualifier), a package that dpkg holds half-installed or flagged for
    reinstall, and a removal by version are always left to apt to decide.
  - This is an action plugin; it runs C(dpkg-query) and M(ansible.builtin.apt)
    on the target.
author:
  - aiplatform.infra maintainers (@aiplatform)
attributes:
  action:
    support: full
    description: Runs on the controller and calls M(ansible.builtin.apt) on the target.
  async:
    support: none
    description: Not supported; the task waits for apt.
  check_mode:
    support: full
    description: dpkg-query runs in check mode too; apt runs in check mode for what would change.
  diff_mode:
    support: full
    description: As M(ansible.builtin.apt), for what would change.
  platform:
    support: full
    platforms: debian
    description: Debian and Ubuntu targets, where dpkg and apt are.
options:
  name:
    description:
      - The packages, each a name or C(name=version); the version may end in
        C(*), as in M(ansible.builtin.apt).
    type: list
    elements: str
    required: true
    aliases: [pkg, package]
  state:
    description:
      - V(present) installs what is missing or at another version than asked for.
      - V(absent) removes what is installed (with O(purge), also what left its
        configuration files).
    type: str
    choices: [present, absent]
    default: present
  allow_downgrade:
    description: Passed to M(ansible.builtin.apt).
    type: bool
  cache_valid_time:
    description: Passed to M(ansible.builtin.apt) when it runs; seconds, 0 or more.
    type: int
  default_release:
    description: Passed to M(ansible.builtin.apt).
    type: str
  install_recommends:
    description: Passed to M(ansible.builtin.apt).
    type: bool
  purge:
    description: Passed to M(ansible.builtin.apt); also removes packages that only left their configuration files.
    type: bool
  update_cache:
    description: Passed to M(ansible.builtin.apt) when it runs.
    type: bool
seealso:
  - module: ansible.builtin.apt
notes:
  - Packages apt would only upgrade are not its business here, as with
    M(ansible.builtin.apt) and O(state=present).
'''

EXAMPLES = r'''
- name: Install chrony and nftables
  aiplatform.infra.apt_packages:
    name: [chrony, nftables]
    cache_valid_time: 86400

- name: Hold Docker Engine at a release
  aiplatform.infra.apt_packages:
    name: ["docker-ce=5:27.3.1*", "docker-ce-cli=5:27.3.1*"]
    allow_downgrade: true
    update_cache: true

- name: Purge telnet and rsh
  aiplatform.infra.apt_packages:
    name: [telnet, rsh-client]
    state: absent
    purge: true
'''

RETURN = r'''
packages:
  description: The packages handed to M(ansible.builtin.apt); empty when nothing had to change and apt did not run.
  returned: always
  type: list
  elements: str
  sample: [nftables]
cache_updated:
  description: Whether apt updated its cache (as M(ansible.builtin.apt) returns it).
  returned: when apt ran
  type: bool
  sample: false
stdout:
  description: apt's output (as M(ansible.builtin.apt) returns it).
  returned: when apt ran and changed something
  type: str
  sample: "Reading package lists..."
'''
