"""What the scenario's tests share: the hosts, SQL as postgres, playbook runs, waiting."""

import os
import subprocess
import time

import testinfra

ADDRESS = {"st-edge": "172.30.84.10", "st-app": "172.30.84.11", "st-db1": "172.30.84.21", "st-db2": "172.30.84.22"}
SITE_NAME = "chat.lab.internal"
SITE_CERT = "/etc/ssl/aiplatform-nginx/chat/fullchain.pem"
PG_CA = "/etc/postgresql/aiplatform-tls/ca.crt"
APP_DSN = ("host=%s dbname=app user=app password=lab-app-password sslmode=verify-full "
           "sslrootcert=/tmp/pg-ca.crt connect_timeout=3")


def host(name):
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def sql(name, query, db="postgres"):
    """Runs a query as postgres over the local socket; returns its unaligned rows."""
    return host(name).check_output("runuser -u postgres -- psql -XAtq -d %s -c %s" % (db, quote(query)))


def playbook(path, *args, **extra_vars):
    """Runs a playbook on the scenario's inventory; returns the finished process.

    Its stdout holds the whole output without colours, each run of white
    space made one space, so that messages can be matched.
    """
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path] + list(args)
    for name, value in extra_vars.items():
        argv += ["-e", "%s=%s" % (name, value)]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, env=env)
    proc.stdout = " ".join(proc.stdout.split())
    return proc


def converge_playbook():
    return os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")


def recap(proc):
    """Host to its PLAY RECAP counters, e.g. {"st-edge": {"ok": 10, "changed": 0, ...}}."""
    words = proc.stdout[proc.stdout.rindex("PLAY RECAP"):].split()[2:]
    found = {}
    for i, word in enumerate(words):
        if word == ":" and i > 0:
            counters = {}
            for item in words[i + 1:i + 10]:
                if "=" in item:
                    key, value = item.split("=", 1)
                    counters[key] = int(value)
            found[words[i - 1]] = counters
    return found


def changed_tasks(proc):
    """The tasks that reported a change, with the hosts they changed."""
    found = []
    for section in proc.stdout.split("TASK [")[1:]:
        name, rest = section.split("]", 1)
        hosts = [part.split("]")[0] for part in rest.split("changed: [")[1:]]
        if hosts:
            found.append("%s: %s" % (name, ", ".join(hosts)))
    return found


def wait_until(check, seconds=30, step=1):
    """Calls check until it returns something true; returns it, or None after the timeout."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)
