"""What the scenario's tests share: the hosts, the app's DSN, its converge (hosts, SQL and playbook runs: scenario_runs)."""

import json

from scenario_runs import converge_playbook, playbook

ADDRESS = {"pg-1": "172.30.79.21", "pg-2": "172.30.79.22", "pg-3": "172.30.79.23"}
MEMBERS = ("pg-1", "pg-2", "pg-3")
CA = "/etc/postgresql/aiplatform-tls/ca.crt"
# The members run Debian 13: PostgreSQL 17 from its archive.
SERVICE = "postgresql@17-main"
LOG = "/var/log/postgresql/postgresql-17-main.log"
APP_DSN = "host=%s dbname=appdb user=app password=lab-app-secret sslmode=%s sslrootcert=/tmp/ca.crt connect_timeout=5"


def converge(**extra_vars):
    """The scenario's converge playbook (the postgresql role on every member)."""
    return playbook(converge_playbook(), **extra_vars)


def health_check(out, *args, **extra_vars):
    """aiplatform.infra.healthcheck on the database hosts, its JSON written to ``out``;
    returns the process and each host's postgres check."""
    proc = playbook("aiplatform.infra.healthcheck", "--limit", "postgres", *args,
                    health_check_json_path=str(out), **extra_vars)
    checks = dict((name, [c for c in entry["checks"] if c["type"] == "postgres"][0])
                  for name, entry in json.loads(out.read_text())["hosts"].items())
    return proc, checks
