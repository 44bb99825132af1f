"""The rolling deploy (aiplatform.infra.deploy) against a plain recreate, under load.

On demand, never a test. Makes three fresh bn-* hosts in the lab's layout
(bn-edge and the two app hosts; inventories/lab with bn-* names), converges
bench/deploy.yml, then, while EdgeLoad (molecule/edge_load.py) sends
plain and streamed chat completions through the edge's HTTPS, moves the
chat app between versions 1 and 2 in alternating order:

- ours: the deploy playbook (each host drained at the edge, replaced,
  health-gated, put back);
- recreate: the same playbook with no edge to drain (apps_edge_group names
  no group): each host's container stopped and the new one started, the
  same health gate, as a plain container recreate would do.

It prints the requests and failures of each run, its wall time, and the
floor of ours: per app host, a container of each version started until its
health check answers (docker run to the first 200, polled every 50 ms),
summed over the hosts, measured after the runs. Ours must fail no request. The hosts are removed at
the end unless --keep.

    .venv/bin/python bench/deploy.py [--rounds 1] [--min-requests 3000] [--keep]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _lab  # noqa: E402 pylint: disable=wrong-import-position
sys.path.insert(0, os.path.join(_lab.ROOT, "molecule"))
from edge_load import EdgeLoad  # noqa: E402 pylint: disable=wrong-import-position

HOSTS = {"bn-edge": _lab.PREFIX + "10", "bn-app": _lab.PREFIX + "11", "bn-app2": _lab.PREFIX + "12"}
APP_HOSTS = ("bn-app", "bn-app2")
CONVERGE = os.path.join(_lab.ROOT, "bench", "deploy.yml")
DEPLOY = os.path.join(_lab.ROOT, "playbooks", "deploy.yml")
SITE_NAME = "chat.lab.internal"
SITE_CERT = "/etc/ssl/aiplatform-nginx/chat/fullchain.pem"
FLOOR_PORT = 18080
# Waits for the first 200 of a fresh container's health check; prints the seconds since docker run.
FLOOR = r"""
set -e
start=$(date +%%s.%%N)
docker run -d --rm --name bench-floor -p %(port)d:8080 %(image)s >/dev/null
for i in $(seq 600); do curl -sf -o /dev/null http://127.0.0.1:%(port)d/health && break; sleep 0.05; done
end=$(date +%%s.%%N)
docker rm -f bench-floor >/dev/null
python3 -c "print($end - $start)"
"""


def _docker_exec(name, script):
    return subprocess.run(["docker", "exec", name, "sh", "-c", script], check=True, capture_output=True,
                          text=True).stdout


def _versions():
    return {name: _docker_exec(name, "curl -sf http://127.0.0.1:8080/health") for name in APP_HOSTS}


def floor(image):
    """Container start plus its health check, summed over the app hosts (seconds)."""
    return sum(float(_docker_exec(name, FLOOR % {"port": FLOOR_PORT, "image": image})) for name in APP_HOSTS)


def run(inventory, env, cafile, api_key, how, version, min_requests):
    """One move of the chat app to version under load; returns (requests, failed, wall seconds)."""
    extra = ["-e", "lab_chat_version=%s" % version]
    if how == "recreate":
        extra += ["-e", "apps_edge_group=no_edge_to_drain"]
    with EdgeLoad(HOSTS["bn-edge"], SITE_NAME, api_key, cafile, min_requests=min_requests) as load:
        elapsed, dummy, dummy = _lab.playbook(inventory, DEPLOY, env, extra)
    failed = load.failed()
    print("%-9s to %s: %5d requests, %4d failed (%s), %.1f s"
          % (how, version, len(load.results), len(failed),
             ", ".join(sorted({f[3].split(" after")[0] for f in failed}))[:80] or "none", elapsed), flush=True)
    return len(load.results), len(failed), elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=1, help="pairs of runs of each, order alternated")
    parser.add_argument("--min-requests", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="leave the hosts up")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="aip-bench-deploy-")
    inventory = _lab.make_inventory(os.path.join(work, "inventory"))
    with open(os.path.join(inventory, "group_vars", "all.yml"), encoding="utf-8") as handle:
        lab_vars = yaml.safe_load(handle)
    env = _lab.lab_env(**_lab.strategy_env("mitogen_linear"))
    try:
        _lab.hosts_up(HOSTS)
        elapsed, dummy, dummy = _lab.playbook(inventory, CONVERGE, env, ["--limit", ",".join(HOSTS) + ",localhost"])
        print("converged in %.1f s; serving %s" % (elapsed, _versions()), flush=True)
        cafile = os.path.join(work, "site.pem")
        with open(cafile, "w", encoding="utf-8") as handle:
            handle.write(_docker_exec("bn-edge", "cat %s" % SITE_CERT))
        # The app is on 1: ours 1->2, recreate 2->1, recreate 1->2, ours 2->1, and so on.
        runs = {"ours": [], "recreate": []}
        for dummy in range(args.rounds):
            for how, version in (("ours", 2), ("recreate", 1), ("recreate", 2), ("ours", 1)):
                runs[how].append(run(inventory, env, cafile, lab_vars["lab_api_key"], how, version, args.min_requests))
        # Both versions are on both hosts now.
        floors = [floor("%s:%s" % (lab_vars["lab_standin_image"], v)) for v in ("2", "1")]
        print("floor (start + health, both hosts): %s s" % ", ".join("%.2f" % f for f in floors), flush=True)
        print("\n| | runs | requests | failed | wall (median) | wall / floor |\n| --- | --- | --- | --- | --- | --- |")
        floor_s = statistics.median(floors)
        for how, found in runs.items():
            wall = statistics.median(r[2] for r in found)
            print("| %s | %d | %d | %d | %.1f s | %.2f |"
                  % (how, len(found), sum(r[0] for r in found), sum(r[1] for r in found), wall, wall / floor_s))
        ours, plain = (statistics.median(r[2] for r in runs[k]) for k in ("ours", "recreate"))
        print("\nours / recreate wall: %.2f; floor %.2f s; failed: ours %d, recreate %d"
              % (ours / plain, floor_s, sum(r[1] for r in runs["ours"]), sum(r[1] for r in runs["recreate"])))
        return 1 if sum(r[1] for r in runs["ours"]) else 0
    finally:
        if not args.keep:
            _lab.hosts_down(HOSTS)


if __name__ == "__main__":
    sys.exit(main())
