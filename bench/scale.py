"""Converge base, Docker and node_exporter on 5 then 20 fresh hosts; compare wall times.

On demand, never a test. Each size gets fresh bn-sNN hosts (removed before
the next size), the same playbook (bench/scale.yml), forks=20 and the lab's
strategy (mitogen, as scripts/lab runs it; --strategy linear for Ansible's
own). After the timed converge, a no-change re-run, and on one host a timed
download-only fetch of the packages installed, to tell whether downloads
from Debian's archive dominate. The CPU seconds the hosts and the
controller used in the converge, and how busy this machine's CPUs were,
tell whether the hosts' own work (which real VMs do on CPUs of their own,
and the lab's containers on this machine's) sets the wall time.

--host-cpus caps each host's CPU time, the same at every size, so that 20
hosts do not run on a fifth of the CPU that 5 hosts had: the hosts then
stand for VMs with slow CPUs of their own, and what grows with their number
is the controller's share. Keep hosts x cap under this machine's CPUs, with
room for the controller.

    .venv/bin/python bench/scale.py [--sizes 5 20] [--forks 20] [--strategy linear] [--host-cpus 0.08]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lab  # noqa: E402 pylint: disable=wrong-import-position

PLAY = os.path.join(_lab.ROOT, "bench", "scale.yml")
INVENTORY = """---
all:
  children:
    docker:
      hosts:
{hosts}
  vars:
    ansible_user: admin
    ansible_ssh_private_key_file: {key}
    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
    ansible_host_key_checking: false
    docker_install_source: distribution
"""
PACKAGES = "docker.io containerd runc prometheus-node-exporter"


def download_probe(address):
    """Seconds to fetch the main packages again from the archive on one host."""
    cmd = ("sudo sh -c 'rm -f /var/cache/apt/archives/*.deb && "
           "apt-get install -qq --reinstall --download-only %s >/dev/null && "
           "du -sm /var/cache/apt/archives | cut -f1'" % PACKAGES)
    start = time.monotonic()
    out = subprocess.run(["ssh", "-q", "-i", _lab.KEY, "-o", "StrictHostKeyChecking=no",
                          "-o", "UserKnownHostsFile=/dev/null", "admin@" + address, cmd],
                         capture_output=True, text=True, check=False)
    return time.monotonic() - start, out.stdout.strip() or out.stderr.strip()


def converge(size, forks, strategy, work, host_cpus):
    hosts = {"bn-s%02d" % n: _lab.PREFIX + str(100 + n) for n in range(1, size + 1)}
    inventory = os.path.join(work, "scale-%d.yml" % size)
    with open(inventory, "w", encoding="utf-8") as handle:
        handle.write(INVENTORY.format(
            hosts="\n".join("        %s: {ansible_host: %s}" % item for item in hosts.items()),
            key=_lab.KEY))
    env = _lab.lab_env(ANSIBLE_FORKS=str(forks), **_lab.strategy_env(strategy))
    try:
        _lab.hosts_up(hosts, host_cpus)
        load = _lab.loadavg()
        before = _lab.cpu_snapshot(hosts)
        first, recap, slow = _lab.playbook(inventory, PLAY, env)
        cpu = _lab.cpu_used(before, hosts)
        rerun, recap2, dummy = _lab.playbook(inventory, PLAY, env)
        probe = download_probe(next(iter(hosts.values())))
    finally:
        _lab.hosts_down(hosts)
    changed = sum(r["changed"] for r in recap2.values())
    print("%2d hosts: converge %.1f s (load before %s), no-change re-run %.1f s, changed %d; "
          "download of %s on one host: %.1f s, %s MB"
          % (size, first, load, rerun, changed, PACKAGES, probe[0], probe[1]))
    print("    converge CPU: hosts %.0f s, controller %.0f s; this machine's %d CPUs %.0f%% busy"
          % (cpu["hosts"], cpu["controller"], cpu["cpus"], 100 * cpu["busy"]))
    for task, seconds in slow[:5]:
        print("    %6ss  %s" % (seconds, task.strip()))
    return first, rerun, changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--forks", type=int, default=20)
    parser.add_argument("--strategy", default="mitogen_linear", choices=["mitogen_linear", "linear"],
                        help="mitogen_linear, the lab's (scripts/lab), or Ansible's own")
    parser.add_argument("--host-cpus", type=float, help="CPUs of each host (docker run --cpus); uncapped by default")
    args = parser.parse_args()
    os.makedirs(os.path.join(_lab.STATE, "bench"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="scale.", dir=os.path.join(_lab.STATE, "bench"))
    results = {size: converge(size, args.forks, args.strategy, work, args.host_cpus) for size in args.sizes}
    small, large = min(results), max(results)
    ratio = results[large][0] / results[small][0]
    print("\nwall %d/%d hosts: converge %.2fx, re-run %.2fx (hosts %.0fx, forks %d, %s, host CPUs %s)"
          % (large, small, ratio, results[large][1] / results[small][1], large / small, args.forks,
             args.strategy, args.host_cpus or "uncapped"))
    return 0 if all(r[2] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
