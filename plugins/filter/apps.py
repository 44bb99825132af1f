# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters for the apps role and the edge: the inventory's apps with their
presets (the role's vars/presets.yml, read here too so that the edge, which
does not run the role, sees the same ports)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os

import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.aiplatform.infra.plugins.module_utils.apps import (
    AppsError,
    colours_in_use,
    container_start,
    database_url,
    databases,
    device_requests,
    firewall_rules,
    hosts_of,
    resolve_all,
    upstream_servers,
)

PRESETS = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'apps', 'vars', 'presets.yml')


def _presets():
    with open(PRESETS, encoding='utf-8') as handle:
        return yaml.safe_load(handle)['_apps_presets']


def _filter(function):
    """The filter function, its AppsError (which names the app and the bad key) raised as Ansible's."""
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AppsError as exc:
            raise AnsibleFilterError(str(exc))
    return wrapped


@_filter
def apps_resolve(services, group_names=None, gpu_mode='runtime', only=None):
    """The apps (of the hosts in group_names, when given; those named in only) with presets merged and GPU
    requests made."""
    resolved = resolve_all(services, _presets(), group_names, only)
    for service in resolved:
        service['device_requests'], service['devices'] = device_requests(service['gpus'], gpu_mode)
    return resolved


@_filter
def app_upstream(services, name, groups, hostvars, host=None, colour=None):
    """The edge's upstream servers (address:port) for the app called name, or those on host (of colour)."""
    return upstream_servers(services, _presets(), name, groups, hostvars, host, colour)


@_filter
def app_hosts(service, groups):
    """The inventory hosts a resolved app runs on (its groups'), in inventory order, each once."""
    return hosts_of(service, groups)


@_filter
def app_firewall_rules(services):
    """The firewall rules (the base role's form) that let only each app's reach_from reach its published port."""
    return firewall_rules(services, _presets())


@_filter
def app_databases(services):
    """The postgresql role's users, databases and pg_hba rules for the apps that have a database."""
    return databases(services, _presets())


@_filter
def app_database_url(service, address, port=5432):
    """A resolved app's connection URL to its database on address:port (verify-full against the mounted CA)."""
    return database_url(service, address, port)


@_filter
def app_container_start(service, image_config=None):
    """How an app's container starts (entrypoint, command, secrets and CA mounts, owner), given its image's Config."""
    return container_start(service, image_config)


@_filter
def app_colours(containers, service, recorded=None, version=None):
    """A blue-green app's colours on a host: running, versions, live, candidate (runs version) and idle."""
    return colours_in_use(service, containers, recorded, version)


class FilterModule(object):
    def filters(self):
        return {
            'apps_resolve': apps_resolve,
            'app_upstream': app_upstream,
            'app_hosts': app_hosts,
            'app_firewall_rules': app_firewall_rules,
            'app_container_start': app_container_start,
            'app_databases': app_databases,
            'app_database_url': app_database_url,
            'app_colours': app_colours,
        }
