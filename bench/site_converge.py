"""Time the lab's first converge of playbooks/site.yml and its no-change re-runs.

On demand, never a test. Makes four fresh bn-* hosts in the lab's layout
(edge+monitoring, app, db primary, db replica; inventories/lab with bn-*
names and addresses), times the first converge and a no-change re-run, then
re-runs under each connection/fact setting in alternating order (rounds) and
prints a table. Every re-run must change nothing. The mitogen variant needs
`pip install -r bench/requirements.txt`. The hosts are removed at the end
unless --keep.

    .venv/bin/python bench/site_converge.py [--rounds 2] [--keep]
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
SITE = os.path.join(_lab.ROOT, "playbooks", "site.yml")


def make_inventory(path):
    """inventories/lab with the bench's names, addresses and key path."""
    source = os.path.join(_lab.ROOT, "inventories", "lab")
    for dirpath, dummy, files in os.walk(source):
        target = os.path.join(path, os.path.relpath(dirpath, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                text = handle.read()
            text = (text.replace("lab-", "bn-").replace("172.30.77.", _lab.PREFIX)
                    .replace("{{ inventory_dir }}/../../.lab/ssh/id_ed25519", _lab.KEY))
            with open(os.path.join(target, name), "w", encoding="utf-8") as handle:
                handle.write(text)
    return path


def variants(cache_dir):
    """Name -> environment overrides, each one setting away from ansible.cfg."""
    found = {
        "ansible.cfg (pipelining on)": {},
        "pipelining off": {"ANSIBLE_PIPELINING": "False"},
        "gathering smart (memory)": {"ANSIBLE_GATHERING": "smart"},
        "gathering smart + jsonfile": {"ANSIBLE_GATHERING": "smart",
                                       "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
                                       "ANSIBLE_CACHE_PLUGIN_CONNECTION": cache_dir},
    }
    try:
        import ansible_mitogen  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        print("mitogen variant left out: %s (pip install -r bench/requirements.txt)" % exc)
    else:
        found["mitogen_linear"] = {
            "ANSIBLE_STRATEGY_PLUGINS": os.path.join(os.path.dirname(ansible_mitogen.__file__),
                                                     "plugins", "strategy"),
            "ANSIBLE_STRATEGY": "mitogen_linear",
            # Mitogen checks host keys itself: the lab's ansible_ssh_common_args
            # (StrictHostKeyChecking=no) do not reach it; without this it
            # reports the re-created hosts unreachable (mismatching host key).
            "ANSIBLE_HOST_KEY_CHECKING": "False"}
    return found


def per_task(elapsed, recap):
    """Tasks per host (mean of ok+skipped+failed) and wall seconds per task of one host."""
    tasks = statistics.mean(h["ok"] + h["skipped"] + h["failed"] for h in recap.values())
    return tasks, elapsed / tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="leave the bn-* hosts running")
    args = parser.parse_args()

    os.makedirs(os.path.join(_lab.STATE, "bench"), exist_ok=True)
    work = tempfile.mkdtemp(prefix="site.", dir=os.path.join(_lab.STATE, "bench"))
    inventory = make_inventory(os.path.join(work, "inventory"))
    try:
        _lab.hosts_up(HOSTS)
        print("hosts up; load average %s" % _lab.loadavg())
        first, recap, dummy = _lab.playbook(inventory, SITE, _lab.lab_env())
        tasks, dummy = per_task(first, recap)
        print("first converge: %.1f s, %.0f tasks/host, changed %s  (load %s)"
              % (first, tasks, {h: r["changed"] for h, r in recap.items()}, _lab.loadavg()))
        table = {}
        failed = set()
        slowest = []
        found = variants(os.path.join(work, "facts"))
        names = list(found)
        # Fill the jsonfile cache first: its runs below are those of a warm cache.
        _lab.playbook(inventory, SITE, _lab.lab_env(**found["gathering smart + jsonfile"]))
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                elapsed, recap, slow = _lab.playbook(inventory, SITE, _lab.lab_env(**found[name]),
                                                     fatal=False)
                if recap is None:
                    print("  round %d %-28s FAILED:\n%s" % (round_no + 1, name, slow))
                    failed.add(name)
                    continue
                changed = sum(r["changed"] for r in recap.values())
                table.setdefault(name, []).append((elapsed, changed, recap))
                print("  round %d %-28s %6.1f s changed=%d (load %s)"
                      % (round_no + 1, name, elapsed, changed, _lab.loadavg()))
                if not slowest and name == names[0]:
                    slowest = slow
    finally:
        if not args.keep:
            _lab.hosts_down(HOSTS)

    print("\nno-change re-runs of site.yml on 4 hosts (median of %d, alternating order)" % args.rounds)
    print("%-28s %8s %8s %9s %10s %8s" % ("setting", "wall s", "re/first", "tasks/h", "s/task/h", "changed"))
    ok = True
    for name, runs in table.items():
        wall = statistics.median(r[0] for r in runs)
        changed = sum(r[1] for r in runs)
        tasks, spt = per_task(wall, runs[0][2])
        ok = ok and changed == 0
        print("%-28s %8.1f %7.0f%% %9.0f %10.3f %8d" % (name, wall, 100 * wall / first, tasks, spt, changed))
    print("\nfirst converge %.1f s; targets: re-run <= 25%% of it, 0 changed, < 0.3 s/task/host"
          % first)
    print("slowest tasks of a no-change run (ansible.cfg), all hosts together:")
    for task, seconds in slowest:
        print("  %6ss  %s" % (seconds, task.strip()))
    if failed:
        print("failed: %s" % ", ".join(sorted(failed)))
    return 0 if ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
