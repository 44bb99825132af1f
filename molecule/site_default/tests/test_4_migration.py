"""A release of the chat app that migrates its schema (migrate: true), from
1 to 2 across both app hosts under the client's load: the scheduled
PostgreSQL backup runs first, every instance of 1 stops before any 2 starts
(Docker's own events on both hosts), and the site is down for at most a
minute, printed.
"""

import json
import time

from lab import SITE_CERT, SITE_NAME, deploy_under_load, edge_load, served_versions
from scenario_runs import host

MIN_REQUESTS = 1000
MAX_DOWNTIME = 60
APP_HOSTS = ("st-app", "st-app2")
EVENTS = ("docker events --since %.3f --until %.3f --filter container=app-chat --filter event=start "
          "--filter event=die --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes \"aiplatform.app.version\"}}'")


def _events(since):
    """(seconds since the epoch, start or die, version) of app-chat on both app hosts, in time order."""
    until = time.time()
    found = []
    for name in APP_HOSTS:
        for line in host(name).check_output(EVENTS % (since, until)).splitlines():
            nanos, action, version = line.split()
            found.append((int(nanos) / 1e9, action, version))
    return sorted(found)


def _backup_state():
    """The scheduled backup's state on the primary ({} before its first run)."""
    return json.loads(host("st-db1").check_output("cat /var/lib/aiplatform-pg-backup/state.json 2>/dev/null || echo {}"))


def test_a_migration_backs_up_first_and_never_runs_two_versions(tmp_path):
    assert served_versions() == {"st-app": "1", "st-app2": "1"}
    since, backups_before = time.time(), _backup_state().get("runs_total", 0)
    load = edge_load(tmp_path, SITE_NAME, SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "migration 1 to 2", lab_chat_version=2, lab_chat_migrate="true")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert served_versions() == {"st-app": "2", "st-app2": "2"}

    events = _events(since)
    stopped = [at for at, action, version in events if action == "die" and version == "1"]
    started = [at for at, action, version in events if action == "start" and version == "2"]
    assert len(stopped) == 2 and len(started) == 2, events
    # Every 1 had stopped before the first 2 started: never both at once.
    assert max(stopped) < min(started), events

    # One backup, whole, between the deploy's start and the first stop.
    state = _backup_state()
    assert state["runs_total"] == backups_before + 1 and state["last_run_success"], state
    assert since < state["last_success_timestamp"] < min(stopped), (since, state, stopped)

    # The site was down from the first failed request to the end of the last:
    # the edge had no server (502) between the drain and the first 2's gate.
    assert failed, "a migration stops the app: some requests must fail"
    assert {r[2] for r in load.results if not r[3]} == {"1", "2"}
    downtime = max(r[4] + r[1] for r in failed) - min(r[4] for r in failed)
    print("FIGURE migration 1 to 2: the site was down %.1f s (%d of %d requests failed), backup first %.1f s"
          % (downtime, len(failed), len(load.results), state["last_duration_seconds"]))
    assert downtime <= MAX_DOWNTIME
