"""What the scenario's tests share: the hosts, the app's DSN and secrets, waiting, deploys under load
(hosts, SQL and playbook runs: scenario_runs)."""

import json
import os
import time

import yaml

from edge_load import EdgeLoad
from scenario_runs import host, playbook


ADDRESS = {"st-edge": "172.30.84.10", "st-app": "172.30.84.11", "st-app2": "172.30.84.12",
           "st-db1": "172.30.84.21", "st-db2": "172.30.84.22"}
SITE_NAME = "chat.lab.internal"
SITE_CERT = "/etc/ssl/aiplatform-nginx/chat/fullchain.pem"
RAG_SITE_NAME = "rag.lab.internal"
RAG_SITE_CERT = "/etc/ssl/aiplatform-nginx/rag/fullchain.pem"
DEPLOY = "aiplatform.infra.deploy"
PG_CA = "/etc/postgresql/aiplatform-tls/ca.crt"
APP_DSN = ("host=%s dbname=app user=app password=lab-app-password sslmode=verify-full "
           "sslrootcert=/tmp/pg-ca.crt connect_timeout=3")

# The lab's secrets, from its inventory: the chat app's token and database
# password, and the key the edge asks for on the model APIs.
with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "..", "..", "inventories", "lab", "group_vars",
                       "all.yml"), encoding="utf-8") as _vars:
    _LAB = yaml.safe_load(_vars)
CHAT_TOKEN = _LAB["lab_chat_token"]
CHAT_DB_PASSWORD = _LAB["lab_chat_db_password"]
API_KEY = _LAB["lab_api_key"]


def wait_until(check, seconds=30, step=1):
    """Calls check until it returns something true; returns it, or None after the timeout."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)


def served_versions():
    """Each host's running version of the chat app, by its health check, asked from the edge."""
    edge = host("st-edge")
    return {name: json.loads(edge.check_output("curl -sf http://%s:8080/health" % ADDRESS[name]))["version"]
            for name in ("st-app", "st-app2")}


def site_cafile(tmp_path, cert):
    """The edge's self-signed certificate of a site, as a CA file on the controller."""
    path = tmp_path / "site.pem"
    path.write_text(host("st-edge").check_output("cat %s" % cert) + "\n")
    return str(path)


def edge_load(tmp_path, site_name, cert, min_requests):
    """The load client (molecule/edge_load.py) against a site of the edge."""
    return EdgeLoad(ADDRESS["st-edge"], site_name, API_KEY, site_cafile(tmp_path, cert), min_requests)


def deploy_under_load(load, what, *args, **extra_vars):
    """aiplatform.infra.deploy run while load (an edge_load) runs; returns the process and the failed requests."""
    with load:
        started = time.monotonic()
        proc = playbook(DEPLOY, *args, **extra_vars)
        took = time.monotonic() - started
    failed = load.report(what)
    print("FIGURE %s: the playbook took %.1f s" % (what, took))
    return proc, failed


def deploy_broken(load, what, message, **extra_vars):
    """A deploy under load of a version that fails its health check (3 tries, 1 s apart): the play fails saying
    message, no request fails, and version 2 alone answers them."""
    proc, failed = deploy_under_load(load, what, apps_health_retries=3, apps_health_delay=1, **extra_vars)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"2"}
