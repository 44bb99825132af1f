"""The rag app, blue-green on its one host (st-app: blue on 8090, green on
8091), through the edge's rag site under load, in order: a --check deploy
of version 2 changes nothing; version 1 switches to 2 with no failed
request; a broken version 3 never answers and 2 serves on; version 1 as a
canary at 10 % gets its share of 1,000 requests; the next deploy finishes
the switch to 1 without starting a container.
"""

import json

from lab import ADDRESS, DEPLOY, RAG_SITE_CERT, RAG_SITE_NAME, deploy_broken, deploy_under_load, edge_load
from scenario_runs import host, playbook

MIN_REQUESTS = 1000
COLOURS = {"blue": 8090, "green": 8091}


def _colours():
    """Each colour's version on st-app, by its health check from the edge (None: not running)."""
    edge = host("st-edge")
    found = {}
    for colour, port in COLOURS.items():
        answer = edge.run("curl -sf -m 3 http://%s:%d/health" % (ADDRESS["st-app"], port))
        found[colour] = json.loads(answer.stdout)["version"] if answer.rc == 0 else None
    return found


def _started(container):
    return host("st-app").check_output("docker inspect -f '{{.State.StartedAt}}' %s" % container)


def test_a_deploy_in_check_mode_starts_and_switches_nothing():
    assert _colours() == {"blue": "1", "green": None}
    started = _started("app-rag-blue")
    proc = playbook(DEPLOY, "--check", lab_rag_version=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert _colours() == {"blue": "1", "green": None}
    assert _started("app-rag-blue") == started


def test_blue_green_from_1_to_2_on_one_host_drops_no_request(tmp_path):
    assert _colours() == {"blue": "1", "green": None}
    load = edge_load(tmp_path, RAG_SITE_NAME, RAG_SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "blue-green 1 to 2", lab_rag_version=2)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert {r[2] for r in load.results} == {"1", "2"}
    assert _colours() == {"blue": None, "green": "2"}


def test_a_broken_version_3_never_answers_and_2_serves_on(tmp_path):
    load = edge_load(tmp_path, RAG_SITE_NAME, RAG_SITE_CERT, MIN_REQUESTS)
    deploy_broken(load, "blue-green broken 3", "rag 3 failed on st-app (blue): its health check GET "
                  "http://127.0.0.1:8090/health answered 503 (wanted 200). It received no traffic; version 2 "
                  "(green) serves on.", lab_rag_version=3)
    assert _colours() == {"blue": None, "green": "2"}


def test_a_canary_gets_its_share_and_the_next_deploy_finishes_the_switch(tmp_path):
    load = edge_load(tmp_path, RAG_SITE_NAME, RAG_SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "canary of 1", lab_rag_version=1, apps_canary_percent=10)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert _colours() == {"blue": "1", "green": "2"}
    with edge_load(tmp_path, RAG_SITE_NAME, RAG_SITE_CERT, MIN_REQUESTS) as load:
        pass
    failed = load.report("canary at 10 %")
    assert not failed, failed[:10]
    share = sum(1 for r in load.results if r[2] == "1") / len(load.results)
    print("FIGURE canary at 10 %%: version 1 answered %.1f %% of %d requests" % (100 * share, len(load.results)))
    assert 0.07 <= share <= 0.13, share
    # Promoted: the canary's colour takes every request without a restart; green goes.
    started = _started("app-rag-blue")
    load = edge_load(tmp_path, RAG_SITE_NAME, RAG_SITE_CERT, MIN_REQUESTS)
    proc, failed = deploy_under_load(load, "canary promoted", lab_rag_version=1)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not failed, failed[:10]
    assert _colours() == {"blue": "1", "green": None}
    assert _started("app-rag-blue") == started
