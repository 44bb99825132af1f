"""Fresh bn-* lab hosts and timed ansible-playbook runs, for the bench scripts.

Hosts are made the way scripts/lab makes them (scripts/lib/lab_hosts.py:
same image, capabilities and SSH-as-admin-with-sudo access, same key under
.lab/ssh), on the bench's own Docker network so that they never meet the
lab's or a Molecule scenario's.
"""

import os
import re
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
import lab_hosts  # noqa: E402 pylint: disable=wrong-import-position
import lab_strategy  # noqa: E402 pylint: disable=wrong-import-position
STATE = os.path.join(ROOT, ".lab")
KEY = os.path.join(STATE, "ssh", "id_ed25519")
NETWORK = "aip-bn-test"
SUBNET = "172.30.85.0/24"
PREFIX = "172.30.85."
LABEL = "aiplatform-bench=1"
IMAGE = os.environ.get("AIP_IMAGE_PREFIX", "local/debian-systemd") + ":bookworm"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)
PROFILE = re.compile(r"^(.+?) -+ (\d+\.\d+)s$", re.M)


def _docker(*args, check=True, **kwargs):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kwargs)


def hosts_down(names):
    """Remove the named bench hosts and their Docker volumes."""
    for name in names:
        _docker("rm", "-f", "-v", name, check=False)
        _docker("volume", "rm", "-f", name + "-docker", check=False)


def hosts_up(hosts, cpus=None):
    """Fresh containers for {name: address}, each answering SSH as admin.

    cpus caps each container's CPU time (docker run --cpus), as a VM has CPUs
    of its own instead of sharing this machine's with the other hosts.
    """
    hosts_down(hosts)
    if _docker("network", "inspect", NETWORK, check=False).returncode:
        _docker("network", "create", "--subnet", SUBNET, NETWORK)
    if not os.path.exists(KEY):
        os.makedirs(os.path.dirname(KEY), exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "aiplatform-lab",
                        "-f", KEY], check=True)
    with open(KEY + ".pub", encoding="utf-8") as handle:
        pubkey = handle.read().strip()
    for name, address in hosts.items():
        lab_hosts.run(name, address, IMAGE, NETWORK, LABEL, name + "-docker", cpus)
    for name in hosts:
        lab_hosts.provision(name, pubkey)
    for address in hosts.values():
        for dummy in range(90):
            if subprocess.run(["ssh", "-q", "-i", KEY, "-o", "BatchMode=yes",
                               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                               "-o", "ConnectTimeout=2", "admin@" + address, "true"],
                              check=False).returncode == 0:
                break
            time.sleep(1)
        else:
            sys.exit("no SSH answer from %s" % address)


def make_inventory(path):
    """inventories/lab with the bench's names, addresses and key path."""
    source = os.path.join(ROOT, "inventories", "lab")
    for dirpath, dummy, files in os.walk(source):
        target = os.path.join(path, os.path.relpath(dirpath, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                text = handle.read()
            text = (text.replace("lab-", "bn-").replace("172.30.77.", PREFIX)
                    .replace("{{ inventory_dir }}/../../.lab/ssh/id_ed25519", KEY))
            with open(os.path.join(target, name), "w", encoding="utf-8") as handle:
                handle.write(text)
    return path


def lab_env(**overrides):
    """The environment of scripts/lib/venv.sh activate_venv, plus overrides."""
    env = dict(os.environ,
               AIP_STATE=STATE,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(STATE, "collections"),
               ANSIBLE_HOME=os.path.join(STATE, "ansible-home"),
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
               PROFILE_TASKS_SORT_ORDER="descending",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="8",
               ANSIBLE_NOCOLOR="1")
    env.update(overrides)
    return env


def strategy_env(strategy):
    """Environment overrides that run a strategy, as scripts/lab sets it up."""
    return lab_strategy.strategy_env(strategy, STATE, os.path.join(STATE, "collections"))


def playbook(inventory, play, env, extra=(), fatal=True):
    """Run a playbook (log next to the inventory); return wall seconds, {host: recap counts}
    (None where it failed and not fatal) and the slowest tasks (the output's tail if failed)."""
    env = dict(env, ANSIBLE_LOG_PATH=os.path.join(
        os.path.dirname(inventory), "%s.%d.log" % (os.path.basename(play), time.time())))
    start = time.monotonic()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, play,
         *extra], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    recap = {m.group(1): dict(zip(("ok", "changed", "unreachable", "failed", "skipped"),
                                  map(int, m.groups()[1:6])))
             for m in RECAP.finditer(proc.stdout)}
    if proc.returncode != 0 or not recap:
        if not fatal:
            return elapsed, None, (proc.stdout + proc.stderr)[-2000:]
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-3000:])
        sys.exit("ansible-playbook %s failed (rc %d)" % (play, proc.returncode))
    slowest = PROFILE.findall(proc.stdout.split("PLAY RECAP")[-1])
    return elapsed, recap, slowest


def loadavg():
    with open("/proc/loadavg", encoding="utf-8") as handle:
        return " ".join(handle.read().split()[:3])


def _host_cpu(names):
    """CPU seconds the named containers have used (cgroup v1 cpuacct, else v2 cpu.stat)."""
    total = 0.0
    for name in names:
        cid = _docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
        v1 = "/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % cid
        if os.path.exists(v1):
            with open(v1, encoding="utf-8") as handle:
                total += int(handle.read()) / 1e9
            continue
        for v2 in ("/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % cid,
                   "/sys/fs/cgroup/docker/%s/cpu.stat" % cid):
            if os.path.exists(v2):
                with open(v2, encoding="utf-8") as handle:
                    total += int(dict(line.split() for line in handle)["usage_usec"]) / 1e6
                break
    return total


def _machine_jiffies():
    """(busy, all) jiffies of every CPU of this machine, from /proc/stat."""
    with open("/proc/stat", encoding="utf-8") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def cpu_snapshot(names):
    """Counters that cpu_used compares with: hosts', this process's children's, the machine's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return _host_cpu(names), usage.ru_utime + usage.ru_stime, _machine_jiffies()


def cpu_used(before, names):
    """Since ``before``: CPU seconds of the hosts and of the controller (ansible-playbook and
    its forks, reaped), and the share of the machine's CPUs that were busy."""
    after = cpu_snapshot(names)
    busy = after[2][0] - before[2][0]
    return dict(hosts=after[0] - before[0], controller=after[1] - before[1],
                busy=busy / max(1, after[2][1] - before[2][1]), cpus=os.cpu_count())
