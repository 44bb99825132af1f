"""Time the lab's first converge (playbooks/lab/up.yml) and its no-change re-runs.

On demand, never a test. Makes four fresh bn-* hosts in the lab's layout
(edge+monitoring, app, db primary, db replica; inventories/lab with bn-*
names and addresses), times the first converge under the lab's default
setting (the mitogen strategy, as scripts/lab runs it; --first picks
another), then re-runs under each connection/fact setting in alternating
order (rounds) and prints a table. Every re-run must change nothing. The
hosts are removed at the end unless --keep.

Per task means per task of one host's play (tasks run on all hosts at
once): s/task is wall time over tasks per host, s/task/host is that over
the number of hosts too.

    .venv/bin/python bench/site_converge.py [--rounds 3] [--first SETTING] [--keep]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lab  # noqa: E402 pylint: disable=wrong-import-position

HOSTS = {"bn-edge": _lab.PREFIX + "10", "bn-app": _lab.PREFIX + "11",
         "bn-db1": _lab.PREFIX + "21", "bn-db2": _lab.PREFIX + "22"}
# What scripts/lab up runs: the stand-ins (S3, the app), then the site.
SITE = os.path.join(_lab.ROOT, "playbooks", "lab", "up.yml")
LAB_DEFAULT = "mitogen_linear (lab default)"


def variants(cache_dir):
    """Name -> environment overrides; the first is the lab's default (scripts/lab)."""
    return {
        LAB_DEFAULT: _lab.strategy_env("mitogen_linear"),
        "linear (ansible.cfg)": {},
        "linear, pipelining off": {"ANSIBLE_PIPELINING": "False"},
        "linear + jsonfile facts": {"ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
                                    "ANSIBLE_CACHE_PLUGIN_CONNECTION": cache_dir},
    }


def per_task(elapsed, recap):
    """Tasks per host (mean of ok+skipped+failed), wall seconds per task and per task per host."""
    tasks = statistics.mean(h["ok"] + h["skipped"] + h["failed"] for h in recap.values())
    return tasks, elapsed / tasks, elapsed / tasks / len(recap)


def rerun_rounds(inventory, found, rounds):
    """{setting: [(wall, changed, recap)]}, the settings that failed, and the
    slowest tasks of each setting's first re-run."""
    table, failed, slowest = {}, set(), {}
    names = list(found)
    for round_no in range(rounds):
        order = names if round_no % 2 == 0 else names[::-1]
        for name in order:
            elapsed, recap, slow = _lab.playbook(inventory, SITE, _lab.lab_env(**found[name]), fatal=False)
            if recap is None:
                print("  round %d %-28s FAILED:\n%s" % (round_no + 1, name, slow))
                failed.add(name)
                continue
            changed = sum(r["changed"] for r in recap.values())
            table.setdefault(name, []).append((elapsed, changed, recap))
            slowest.setdefault(name, slow)
            print("  round %d %-28s %6.1f s changed=%d (load %s)"
                  % (round_no + 1, name, elapsed, changed, _lab.loadavg()), flush=True)
    return table, failed, slowest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="re-runs of each setting (odd: a true median)")
    parser.add_argument("--first", default=LAB_DEFAULT, help="the setting of the first converge")
    parser.add_argument("--keep", action="store_true", help="leave the bn-* hosts running")
    args = parser.parse_args()

    os.makedirs(os.path.join(_lab.STATE, "bench"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="site.", dir=os.path.join(_lab.STATE, "bench"))
    inventory = _lab.make_inventory(os.path.join(work, "inventory"))
    found = variants(os.path.join(work, "facts"))
    try:
        _lab.hosts_up(HOSTS)
        print("hosts up; load average %s" % _lab.loadavg(), flush=True)
        first, recap, dummy = _lab.playbook(inventory, SITE, _lab.lab_env(**found[args.first]))
        print("first converge (%s): %.1f s, %.0f tasks/host, changed %s  (load %s)"
              % (args.first, first, per_task(first, recap)[0], {h: r["changed"] for h, r in recap.items()},
                 _lab.loadavg()), flush=True)
        # Fill the jsonfile cache first: its runs below are those of a warm cache.
        _lab.playbook(inventory, SITE, _lab.lab_env(**found["linear + jsonfile facts"]))
        table, failed, slowest = rerun_rounds(inventory, found, args.rounds)
    finally:
        if not args.keep:
            _lab.hosts_down(HOSTS)

    print("\nno-change re-runs of the lab (stand-ins and site.yml) on %d hosts (median of %d, alternating order)"
          % (len(HOSTS), args.rounds))
    print("%-28s %8s %8s %8s %8s %11s %8s"
          % ("setting", "wall s", "re/first", "tasks/h", "s/task", "s/task/host", "changed"))
    ok = True
    for name, runs in table.items():
        wall = statistics.median(r[0] for r in runs)
        changed = sum(r[1] for r in runs)
        tasks, spt, spth = per_task(wall, runs[0][2])
        ok = ok and changed == 0
        print("%-28s %8.1f %7.0f%% %8.0f %8.2f %11.3f %8d"
              % (name, wall, 100 * wall / first, tasks, spt, spth, changed))
    print("\nfirst converge %.1f s (%s); targets: re-run <= 25%% of it, 0 changed, < 0.3 s/task/host"
          % (first, args.first))
    for name, slow in slowest.items():
        print("slowest tasks of a no-change run, %s, all hosts together:" % name)
        for task, seconds in slow:
            print("  %6ss  %s" % (seconds, task.strip()))
    if failed:
        print("failed: %s" % ", ".join(sorted(failed)))
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
