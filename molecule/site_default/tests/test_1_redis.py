"""Redis (the redis role) as the apps see it: ACL users only, reachable from the app hosts
only, persistent, with a memory limit, watched by its exporter, Prometheus and the health check.

Clients are Python's own sockets on the hosts themselves, speaking RESP:
no redis-cli is needed on the app host.
"""

import json
import time

from scenario_runs import host, quote

REDIS_HOST, APP_HOST, OTHER_HOST, MONITORING_HOST = "st-db2", "st-app", "st-edge", "st-edge"
REDIS = "172.30.84.22"
PROMETHEUS = "http://172.30.84.10:9090"
# inventories/lab/group_vars/redis.yml
APP_USER, APP_PASSWORD = "app", "lab-redis-password"
MONITOR_USER, MONITOR_PASSWORD = "aip_monitor", "lab-redis-monitor-password"
MAXMEMORY = str(64 * 1024 * 1024)

# Sends each command (a list of words) in turn and prints each reply as a JSON
# line; "unreachable: ..." when no connection is made within 3 s.
_CLIENT = r'''
import json, socket, sys

def read(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2].decode()
    if kind in (b"+", b"-", b":"):
        return kind.decode() + rest
    if kind == b"$":
        return None if rest == "-1" else f.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return [read(f) for _ in range(int(rest))]
    raise SystemExit("not a reply: %r" % line)

try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
except OSError as exc:
    print("unreachable: %s" % exc)
    raise SystemExit(0)
f = s.makefile("rb")
for words in json.loads(sys.argv[3]):
    data = [w.encode() for w in words]
    s.sendall(b"*%d\r\n" % len(data) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in data))
    print(json.dumps(read(f)))
'''


def redis_from(name, *commands, address=REDIS, port=6379):
    """The replies to commands sent from host ``name``, in order; a string "unreachable: ..." if none."""
    out = host(name).check_output("python3 -c %s %s %d %s" % (
        quote(_CLIENT), address, port, quote(json.dumps([list(c) for c in commands]))))
    if out.startswith("unreachable"):
        return out
    return [json.loads(line) for line in out.splitlines()]


def _auth(user, password):
    return ["AUTH", user, password]


def test_an_unauthenticated_ping_is_refused():
    assert redis_from(APP_HOST, ["PING"]) == ["-NOAUTH Authentication required."]


def test_the_default_user_is_off():
    reply = redis_from(APP_HOST, ["AUTH", "default", "anything"], ["PING"])
    assert reply[0].startswith("-WRONGPASS"), reply
    assert reply[1].startswith("-NOAUTH"), reply


def test_the_app_user_pings_and_writes_from_an_app_host():
    assert redis_from(APP_HOST, _auth(APP_USER, APP_PASSWORD), ["PING"], ["SET", "aip:test", "1", "EX", "60"],
                      ["GET", "aip:test"]) == ["+OK", "+PONG", "+OK", "1"]


def test_the_app_user_cannot_change_the_servers_settings():
    reply = redis_from(APP_HOST, _auth(APP_USER, APP_PASSWORD), ["CONFIG", "SET", "dir", "/tmp"])
    assert reply[0] == "+OK" and reply[1].startswith("-NOPERM"), reply


def test_a_host_outside_the_app_group_gets_no_answer():
    started = time.monotonic()
    reply = redis_from(OTHER_HOST, ["PING"])
    assert isinstance(reply, str) and reply.startswith("unreachable"), reply
    print("\nFIGURE redis from a non-app host: %s after %.1f s" % (reply, time.monotonic() - started))


def test_persistence_and_the_memory_limit_are_on():
    reply = redis_from(APP_HOST, _auth(MONITOR_USER, MONITOR_PASSWORD), ["CONFIG", "GET", "appendonly"],
                       ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "maxmemory-policy"])
    assert reply == ["+OK", ["appendonly", "yes"], ["maxmemory", MAXMEMORY], ["maxmemory-policy", "volatile-lru"]]
    server = host(REDIS_HOST)
    data_dir = "/var/lib/valkey" if server.file("/etc/valkey").exists else "/var/lib/redis"
    assert server.file(data_dir + "/appendonlydir").is_directory


def test_the_acl_file_is_the_servers_own_and_holds_no_password_in_clear():
    server = host(REDIS_HOST)
    name = "valkey" if server.file("/etc/valkey").exists else "redis"
    acl = server.file("/etc/%s/users.acl" % name)
    assert (acl.user, acl.group, acl.mode) == (name, name, 0o600)
    content = server.check_output("cat %s" % acl.path)
    assert APP_PASSWORD not in content and MONITOR_PASSWORD not in content
    assert "user default off" in content


def test_the_exporter_reads_the_server_with_its_password_out_of_sight():
    server = host(REDIS_HOST)
    env = server.file("/etc/default/prometheus-redis-exporter")
    assert (env.user, env.mode) == ("root", 0o600)
    assert MONITOR_PASSWORD not in server.check_output("ps -eo args")
    text = host(MONITORING_HOST).check_output("curl -fsS http://%s:9121/metrics" % REDIS)
    metrics = dict(line.split(" ", 1) for line in text.splitlines() if line.startswith("redis_") and "{" not in line)
    assert float(metrics["redis_up"]) == 1
    assert float(metrics["redis_memory_max_bytes"]) == float(MAXMEMORY)
    assert float(metrics["redis_aof_enabled"]) == 1


def test_prometheus_scrapes_the_redis_job():
    def redis_targets():
        found = json.loads(host(MONITORING_HOST).check_output(
            "curl -fsS %s/api/v1/targets?state=active" % PROMETHEUS))["data"]["activeTargets"]
        return dict((t["labels"].get("host"), t["health"]) for t in found if t["labels"]["job"] == "redis")
    deadline = time.monotonic() + 90
    while redis_targets().get(REDIS_HOST) != "up" and time.monotonic() < deadline:
        time.sleep(3)
    assert redis_targets().get(REDIS_HOST) == "up", redis_targets()


def test_the_health_check_logs_in_and_pings():
    args = {"redis": [{"host": REDIS, "user": MONITOR_USER, "password": MONITOR_PASSWORD}]}
    result = host(REDIS_HOST).ansible("aiplatform.infra.health_check", json.dumps(args), check=False)
    assert [(c["type"], c["status"]) for c in result["checks"]] == [("redis", "ok")], result
    wrong = {"redis": [{"host": REDIS, "user": MONITOR_USER, "password": "not-it"}], "fail_on": "never"}
    result = host(REDIS_HOST).ansible("aiplatform.infra.health_check", json.dumps(wrong), check=False)
    assert result["checks"][0]["status"] == "fail"
    assert "refused AUTH as aip_monitor: WRONGPASS" in result["checks"][0]["reason"]
