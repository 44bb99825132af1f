"""What the multi-host scenarios' tests share: hosts by name, SQL as postgres, playbook runs.

molecule/ is on the tests' import path (pytest puts the folder of
molecule/conftest.py there), so a scenario's helpers import this module.
"""

import os
import subprocess

import testinfra


def host(name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def sql(name, query, db="postgres"):
    """Runs a query as postgres over the local socket; returns its unaligned rows."""
    return host(name).check_output("runuser -u postgres -- psql -XAtq -d %s -c %s" % (db, quote(query)))


def playbook(path, *args, **extra_vars):
    """Runs a playbook on the scenario's inventory (more ansible-playbook arguments in args); returns the process.

    Its stdout holds the whole output (errors included) without colours, each
    run of white space made one space, so that messages can be matched.
    """
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path] + list(args)
    for name, value in extra_vars.items():
        argv += ["-e", "%s=%s" % (name, value)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, env=env)
    proc.stdout = " ".join(proc.stdout.split())
    return proc


def converge_playbook():
    """The scenario's converge playbook."""
    return os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")


def changed_tasks(proc):
    """The tasks that reported a change, with the hosts they changed."""
    found = []
    for section in proc.stdout.split("TASK [")[1:]:
        name, rest = section.split("]", 1)
        hosts = [part.split("]")[0] for part in rest.split("changed: [")[1:]]
        if hosts:
            found.append("%s: %s" % (name, ", ".join(hosts)))
    return found


def recap(proc):
    """Host to its PLAY RECAP counters, e.g. {"pg-1": {"ok": 10, "changed": 0, ...}}."""
    words = proc.stdout[proc.stdout.rindex("PLAY RECAP"):].split()[2:]
    found = {}
    for i, word in enumerate(words):
        if word == ":" and i > 0:
            counters = {}
            for item in words[i + 1:]:
                if "=" not in item:
                    break
                key, value = item.split("=", 1)
                counters[key] = int(value)
            found[words[i - 1]] = counters
    return found


def changed_hosts(proc):
    """Hosts whose PLAY RECAP entry reports changed tasks."""
    return sorted(name for name, counters in recap(proc).items() if counters.get("changed"))
