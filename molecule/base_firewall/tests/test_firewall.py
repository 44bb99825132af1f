"""The base role's firewall, seen from the other hosts of the scenario.

Every port listened on here answers from some host, so a port that does not
answer from another is closed by the firewall, not by a missing listener.
"""

import pytest
from scenario_runs import host

ADDRESS = {"fw-edge": "172.30.78.10", "fw-app": "172.30.78.11", "fw-db": "172.30.78.21", "fw-mon": "172.30.78.31"}
# Dropped packets get no answer: a short timeout tells closed from open.
PROBE = "timeout 3 bash -c '</dev/tcp/%s/%d'"


def answers(source, target, port):
    return host(source).run(PROBE % (ADDRESS[target], port)).rc == 0


@pytest.mark.parametrize("source, target, port, open_", [
    ("fw-app", "fw-db", 5432, True),     # postgres: app hosts
    ("fw-mon", "fw-db", 5432, False),
    ("fw-edge", "fw-db", 5432, False),
    ("fw-mon", "fw-db", 9187, True),     # postgres exporter: monitoring only
    ("fw-app", "fw-db", 9187, False),
    ("fw-mon", "fw-edge", 9100, True),   # node exporter: monitoring only
    ("fw-edge", "fw-db", 9100, False),
    ("fw-mon", "fw-edge", 9113, True),   # nginx exporter: monitoring only
    ("fw-app", "fw-edge", 9113, False),
    ("fw-db", "fw-edge", 80, True),      # the edge: anyone
    ("fw-mon", "fw-app", 80, False),     # web ports only on the edge
    ("fw-edge", "fw-app", 8081, False),  # a port no rule names
    ("fw-edge", "fw-db", 22, True),      # ssh: admin networks (anywhere here)
])
def test_port_answers_only_from_allowed_hosts(source, target, port, open_):
    assert answers(source, target, port) is open_


def test_firewall_comes_back_after_its_unit_restarts():
    db = host("fw-db")
    with db.sudo():
        db.check_output("systemctl restart aiplatform-firewall")
        assert db.service("aiplatform-firewall").is_enabled
        assert "policy drop" in db.check_output("nft list chain inet aiplatform input")
    assert not answers("fw-edge", "fw-db", 5432)
    assert answers("fw-app", "fw-db", 5432)


def test_docker_published_port_answers_after_a_firewall_reload(test_image_on):
    app = host("fw-app")
    test_image = test_image_on(app)
    with app.sudo():
        app.run("docker rm -f aip-published")
        app.check_output("docker run -d --name aip-published -p 8080:8080 %s httpd -f -p 8080 -h /" % test_image)
        try:
            app.check_output("systemctl reload aiplatform-firewall")
            tables = app.check_output("nft list tables")
            # Docker publishes through its own chains, which the firewall leaves alone.
            assert answers("fw-edge", "fw-app", 8080)
        finally:
            app.run("docker rm -f aip-published")
    assert "table ip nat" in tables
    assert "table inet aiplatform" in tables
