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


def playbook(path, **extra_vars):
    """Runs a playbook on the scenario's inventory; returns the finished process (output in stdout)."""
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path]
    for name, value in extra_vars.items():
        argv += ["-e", "%s=%s" % (name, value)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def converge(**extra_vars):
    """The scenario's converge playbook (the postgresql role on every member)."""
    return playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), **extra_vars)


def changed_hosts(proc):
    """Hosts whose PLAY RECAP line reports changed tasks."""
    recap = proc.stdout[proc.stdout.rindex("PLAY RECAP"):]
    return sorted(line.split()[0] for line in recap.splitlines() if "changed=" in line and "changed=0 " not in line)
