# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A host firewall's accept rules, taken from the inventory.

A rule opens ports on the hosts of some groups (``on_groups``) to sources
(``from``): networks in CIDR form, single addresses, or inventory group
names standing for the addresses of their hosts. The result is what the
base role's nftables template writes: per rule, the ports and the IPv4 and
IPv6 source sets, or "any" when a source covers a whole address family.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket

PROTOCOLS = ('tcp', 'udp')
_RULE_KEYS = frozenset(('name', 'ports', 'proto', 'on_groups', 'from', 'published'))


class FirewallError(ValueError):
    """A rule or an inventory address the firewall cannot be built from."""


def _text(value):
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def parse_network(value):
    """The network ``value`` names, or None when it is not an address or CIDR."""
    try:
        return ipaddress.ip_network(_text(value).strip(), strict=False)
    except ValueError:
        return None


def known_addresses(name, host_vars):
    """A host's addresses as the inventory and its facts know them, without DNS.

    ``base_firewall_address`` wins, then ``ansible_host`` when it is an
    address, then the default IPv4 and IPv6 addresses of the host's
    gathered facts. Empty when none of them gives an address.
    """
    target = host_vars.get('base_firewall_address') or host_vars.get('ansible_host') or name
    network = parse_network(target)
    if network is not None:
        return [network]
    facts = host_vars.get('ansible_facts') or {}
    from_facts = (parse_network(facts.get(key, {}).get('address', ''))
                  for key in ('default_ipv4', 'default_ipv6'))
    return [n for n in from_facts if n is not None]


def host_addresses(name, host_vars, resolve=socket.getaddrinfo):
    """The addresses a host's packets come from, as networks of one address.

    Those of ``known_addresses``; failing them, ``ansible_host`` or the
    inventory name resolved on the controller.
    """
    known = known_addresses(name, host_vars)
    if known:
        return known
    target = _text(host_vars.get('ansible_host') or name)
    try:
        infos = resolve(target, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FirewallError(
            "cannot find the address of host %s: it has no facts gathered and %r does not "
            "resolve (%s). Set its ansible_host or base_firewall_address to its address."
            % (name, target, exc))
    return sorted({ipaddress.ip_network(info[4][0]) for info in infos},
                  key=lambda net: (net.version, net))


def inventory_addresses(hostnames, hostvars):
    """``{host: [address, ...]}`` for the hosts whose address is known without DNS."""
    result = {}
    for name in hostnames:
        addresses = [str(n.network_address) for n in known_addresses(name, hostvars[name])]
        if addresses:
            result[name] = addresses
    return result


def _ports(rule):
    ports = rule.get('ports')
    if not isinstance(ports, (list, tuple)) or not ports:
        raise FirewallError("rule %r: 'ports' must be a non-empty list" % rule.get('name'))
    result = []
    for port in ports:
        text = _text(port)
        bounds = text.split('-', 1)
        if not all(b.isdigit() and 0 < int(b) < 65536 for b in bounds) or int(bounds[0]) > int(bounds[-1]):
            raise FirewallError("rule %r: %r is not a port (1-65535) or a range like 8000-8099"
                                % (rule.get('name'), port))
        result.append(text)
    return sorted(set(result), key=lambda p: int(p.split('-')[0]))


def _check_rule(rule):
    if not isinstance(rule, dict) or not rule.get('name'):
        raise FirewallError("every firewall rule needs a 'name': %r" % (rule,))
    unknown = set(rule) - _RULE_KEYS
    if unknown:
        raise FirewallError("rule %r: unknown keys %s (known: %s)"
                            % (rule['name'], ', '.join(sorted(unknown)), ', '.join(sorted(_RULE_KEYS))))
    if rule.get('proto', 'tcp') not in PROTOCOLS:
        raise FirewallError("rule %r: proto must be one of %s" % (rule['name'], ', '.join(PROTOCOLS)))
    for key in ('on_groups', 'from'):
        if not isinstance(rule.get(key, []), (list, tuple)):
            raise FirewallError("rule %r: %r must be a list" % (rule['name'], key))


def expand_sources(sources, groups, hostvars, resolve=socket.getaddrinfo):
    """The networks a rule's ``from`` list stands for, collapsed per family."""
    networks = []
    for source in sources:
        network = parse_network(source)
        if network is not None:
            networks.append(network)
            continue
        for host in groups.get(_text(source), []):
            networks.extend(host_addresses(host, hostvars[host], resolve))
    return {
        version: [_compact(n) for n in ipaddress.collapse_addresses(n for n in networks if n.version == version)]
        for version in (4, 6)
    }


def _compact(network):
    """A network as text; a single address without its prefix length."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def build_rules(rules, group_names, groups, hostvars, resolve=socket.getaddrinfo):
    """The rules that apply to a host in ``group_names``, with sources expanded.

    Each result has ``name``, ``proto``, ``ports`` (strings, ranges kept) and
    ``saddr4``/``saddr6``: lists of networks, where ``['0.0.0.0/0']`` or
    ``['::/0']`` means any source of that family and an empty list none.
    A rule without ``on_groups`` applies to every host; one whose sources are all
    empty groups is kept and opens nothing.
    """
    result = []
    for rule in rules:
        _check_rule(rule)
        on_groups = rule.get('on_groups')
        if on_groups and not set(on_groups) & set(group_names):
            continue
        sources = expand_sources(rule.get('from', []), groups, hostvars, resolve)
        result.append({
            'name': rule['name'],
            'proto': rule.get('proto', 'tcp'),
            'ports': _ports(rule),
            'saddr4': sources[4],
            'saddr6': sources[6],
            'published': bool(rule.get('published')),
        })
    return result


def allows(built_rules, address, port, proto='tcp'):
    """Whether ``build_rules`` output lets ``address`` reach ``port`` on the host itself (not a published port)."""
    source = ipaddress.ip_address(_text(address))
    port = int(port)
    for rule in built_rules:
        if rule['proto'] != proto or rule.get('published'):
            continue
        if not any(int(p.split('-')[0]) <= port <= int(p.split('-')[-1]) for p in rule['ports']):
            continue
        networks = rule['saddr4'] if source.version == 4 else rule['saddr6']
        if any(source in ipaddress.ip_network(n) for n in networks):
            return True
    return False
