"""What the scenario's tests share: the hosts, SQL as postgres, the app's DSN, the playbooks."""

import os
import subprocess

import testinfra

ADDRESS = {"pg-1": "172.30.79.21", "pg-2": "172.30.79.22", "pg-3": "172.30.79.23"}
MEMBERS = ("pg-1", "pg-2", "pg-3")
CA = "/etc/postgresql/aiplatform-tls/ca.crt"
APP_DSN = "host=%s dbname=appdb user=app password=lab-app-secret sslmode=%s sslrootcert=/tmp/ca.crt connect_timeout=5"


def host(name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def sql(name, query, db="postgres"):
    """Runs a query as postgres over the local socket; returns its unaligned rows."""
    return host(name).check_output("runuser -u postgres -- psql -XAtq -d %s -c %s" % (db, quote(query)))


def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def playbook(path, limit=None, **extra_vars):
    """Runs a playbook on the scenario's inventory; returns the finished process.

    Its stdout holds the whole output (errors included) without colours, each
    run of white space made one space, so that messages can be matched.
    """
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path] + (["--limit", limit] if limit else [])
    for name, value in extra_vars.items():
        argv += ["-e", "%s=%s" % (name, value)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, env=env)
    proc.stdout = " ".join(proc.stdout.split())
    return proc


def converge(**extra_vars):
    """The scenario's converge playbook (the postgresql role on every member)."""
    return playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), **extra_vars)


def changed_hosts(proc):
    """Hosts whose PLAY RECAP entry reports changed tasks."""
    recap = proc.stdout[proc.stdout.rindex("PLAY RECAP"):].split()
    return sorted(recap[i - 3] for i, word in enumerate(recap) if word.startswith("changed=") and word != "changed=0")


def changed_tasks(proc):
    """The tasks that reported a change, with the hosts they changed."""
    found = []
    for section in proc.stdout.split("TASK [")[1:]:
        name, rest = section.split("]", 1)
        hosts = [part.split("]")[0] for part in rest.split("changed: [")[1:]]
        if hosts:
            found.append("%s: %s" % (name, ", ".join(hosts)))
    return found
