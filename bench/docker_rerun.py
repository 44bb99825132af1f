"""Time a no-change re-run of the docker role on one lab host.

Needs the lab (scripts/lab up). The baseline, measured in the same run, is a
play that only gathers facts and pings the same host over the same
connection: the ratio shows what the role costs above Ansible's own floor.

    .venv/bin/python bench/docker_rerun.py [--host lab-app] [--runs 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE_PLAY = """
- hosts: {host}
  become: true
  roles: [aiplatform.infra.docker]
"""
BASELINE_PLAY = """
- hosts: {host}
  become: true
  tasks:
    - ansible.builtin.ping:
"""


def run(playbook, host):
    env = dict(os.environ,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".lab", "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, delete=False) as handle:
        handle.write(playbook.format(host=host))
    try:
        start = time.monotonic()
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
             "-i", os.path.join(ROOT, "inventories", "lab"), handle.name],
            env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - start
    finally:
        os.unlink(handle.name)
    if proc.returncode != 0:
        sys.exit("ansible-playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    stats = json.loads(proc.stdout)["stats"][host]
    return elapsed, stats["changed"], stats["ok"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="lab-app")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    run(ROLE_PLAY, args.host)  # converge first: the runs below must change nothing
    role, baseline, changed = [], [], 0
    for dummy in range(args.runs):
        elapsed, n_changed, tasks = run(ROLE_PLAY, args.host)
        role.append(elapsed)
        changed += n_changed
        baseline.append(run(BASELINE_PLAY, args.host)[0])
    role_s, base_s = statistics.median(role), statistics.median(baseline)
    print("docker role, no-change re-run on %s: median %.2f s over %d runs (%d tasks ok), "
          "changed tasks in all runs: %d" % (args.host, role_s, args.runs, tasks, changed))
    print("baseline (facts + ping, same host): median %.2f s" % base_s)
    print("ratio role/baseline: %.2f" % (role_s / base_s))
    print("target: 0 changed and under 6 s: %s" % ("met" if changed == 0 and role_s < 6 else "NOT met"))
    return 0 if changed == 0 and role_s < 6 else 1


if __name__ == "__main__":
    sys.exit(main())
