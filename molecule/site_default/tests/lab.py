"""What the scenario's tests share: the hosts, the app's DSN and secrets, waiting (hosts, SQL and playbook runs: scenario_runs)."""

import os
import time

import yaml


ADDRESS = {"st-edge": "172.30.84.10", "st-app": "172.30.84.11", "st-app2": "172.30.84.12",
           "st-db1": "172.30.84.21", "st-db2": "172.30.84.22"}
SITE_NAME = "chat.lab.internal"
SITE_CERT = "/etc/ssl/aiplatform-nginx/chat/fullchain.pem"
PG_CA = "/etc/postgresql/aiplatform-tls/ca.crt"
APP_DSN = ("host=%s dbname=app user=app password=lab-app-password sslmode=verify-full "
           "sslrootcert=/tmp/pg-ca.crt connect_timeout=3")

# The lab's secrets, from its inventory: the chat app's token and the key
# the edge asks for on the model APIs.
with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "..", "..", "inventories", "lab", "group_vars",
                       "all.yml"), encoding="utf-8") as _vars:
    _LAB = yaml.safe_load(_vars)
CHAT_TOKEN = _LAB["lab_chat_token"]
API_KEY = _LAB["lab_api_key"]


def wait_until(check, seconds=30, step=1):
    """Calls check until it returns something true; returns it, or None after the timeout."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(step)
