"""The suite's Molecule stage: every scenario step by step, in lanes at once.

    python3 scenario_runner.py TIMES LOGS LANES [SCENARIO...]

runs the named scenarios (all of molecule/ when none is named), LANES of them
at a time. Each runs its test_sequence (its own molecule.yml's, else the
shared .config/molecule/config.yml's) one `molecule ACTION` at a time:

- create, destroy and syntax under Ansible's own strategy; the actions on the
  scenario's hosts (prepare, check, converge, idempotence, side_effect,
  verify) under mitogen's, reached through its docker connection (the shared
  config's connection_options), which runs each host's modules in one Python
  process instead of a `docker exec` per module. Molecule's create and
  destroy start Docker jobs with async, whose status mitogen never reports
  as finished;
- a scenario whose step fails is destroyed and the others go on; the
  runner ends with the last lines of each failed step (CI shows the tail
  of the output) and exits 1 naming the failed ones.

Scenarios whose hosts share a name (those on the shared deb12 and deb13) run
one after another in one lane. The longest go first, by the seconds each
took in the last run on this machine (HISTORY, kept outside the checkout so
that a fresh clone on the same machine has it: CI's; a guess from the
number of hosts before any run). A step's seconds are appended to TIMES as
"SCENARIO<TAB>STEP<TAB>SECONDS" (step_times.py prints the table); each
scenario's output goes to LOGS/SCENARIO.log and is printed whole when the
scenario ends, so that lanes never interleave their lines.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import yaml

import lab_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, ".config", "molecule", "config.yml")
# Molecule's own playbooks on localhost (async Docker jobs): Ansible's strategy.
LINEAR_ACTIONS = ("dependency", "create", "destroy", "syntax")
STRATEGY = "mitogen_linear"
# Lines of a failed step's output printed again at the end.
FAILED_TAIL_LINES = 60
# Seconds a scenario is guessed to take per host, before a run has timed it.
GUESS_PER_HOST = 90
HISTORY = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                       "aiplatform-infra", "scenario-seconds.json")


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _offset(log):
    """Where the next byte of log goes: its own writes and those of the steps (which share its descriptor)."""
    log.flush()
    return os.lseek(log.fileno(), 0, os.SEEK_CUR)


def scenarios_on_disk():
    """Every scenario under molecule/, sorted by name."""
    base = os.path.join(ROOT, "molecule")
    return sorted(name for name in os.listdir(base)
                  if os.path.isfile(os.path.join(base, name, "molecule.yml")))


def scenario_plan(name, shared):
    """(test_sequence, host names) of a scenario; shared (the shared config) fills in what it lacks."""
    own = _load(os.path.join(ROOT, "molecule", name, "molecule.yml"))
    sequence = (own.get("scenario") or {}).get("test_sequence") or shared["scenario"]["test_sequence"]
    platforms = own.get("platforms") or shared["platforms"]
    return list(sequence), set(platform["name"] for platform in platforms)


def jobs(names, hosts, seconds):
    """Names grouped so that scenarios sharing a host name are one job; longest job first.

    hosts maps a scenario to its host names, seconds a scenario to its
    expected seconds. Returns lists of scenario names.
    """
    groups = []
    for name in names:
        joined = [group for group in groups if any(hosts[name] & hosts[other] for other in group)]
        merged = [name]
        for group in joined:
            merged += group
            groups.remove(group)
        groups.append(sorted(merged))
    return sorted(groups, key=lambda group: (-sum(seconds[n] for n in group), group))


class Runner:
    """Runs jobs from a queue in lanes; records steps, logs and failures."""

    def __init__(self, times, logs, plans):
        self.times, self.logs, self.plans = times, logs, plans
        self.lock = threading.Lock()
        self.failed, self.seconds, self.failed_output = [], {}, []
        self.fast_env = dict(os.environ, **lab_strategy.strategy_plugins(STRATEGY))

    def _say(self, text):
        with self.lock:
            sys.stdout.write(text)
            sys.stdout.flush()

    def _action(self, name, action, log):
        env = os.environ if action in LINEAR_ACTIONS else self.fast_env
        log.write("\n==> molecule %s -s %s\n" % (action, name))
        log.flush()
        begun = time.monotonic()
        code = subprocess.call(["molecule", action.replace("_", "-"), "-s", name], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        spent = time.monotonic() - begun
        with self.lock, open(self.times, "a", encoding="utf-8") as out:
            out.write("%s\t%s\t%.0f\n" % (name, action, spent))
        return code, spent

    def scenario(self, name):
        """Runs one scenario's sequence; destroys its hosts when a step fails."""
        path = os.path.join(self.logs, name + ".log")
        begun = time.monotonic()
        with open(path, "w", encoding="utf-8") as log:
            for action in self.plans[name][0]:
                begun_at = _offset(log)
                code, spent = self._action(name, action, log)
                self._say("==> %s %s: %.0f s%s\n" % (name, action, spent, "" if code == 0 else ", failed"))
                if code:
                    with self.lock:
                        self.failed.append("%s (%s)" % (name, action))
                        self.failed_output.append((name, action, path, begun_at, _offset(log)))
                    self._action(name, "destroy", log)
                    break
        with self.lock, open(path, encoding="utf-8", errors="replace") as log:
            self.seconds[name] = round(time.monotonic() - begun)
            sys.stdout.write(log.read())
            sys.stdout.flush()

    def lane(self, work):
        while True:
            try:
                group = work.get_nowait()
            except queue.Empty:
                return
            for name in group:
                self.scenario(name)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    times, logs, lanes = argv[0], argv[1], int(argv[2])
    names = argv[3:] or scenarios_on_disk()
    shared = _load(SHARED)
    plans = dict((name, scenario_plan(name, shared)) for name in names)
    os.makedirs(logs, exist_ok=True)
    known = {}
    if os.path.exists(HISTORY):
        with open(HISTORY, encoding="utf-8") as handle:
            known = json.load(handle)
    seconds = dict((name, known.get(name, GUESS_PER_HOST * len(plans[name][1]))) for name in names)
    work = queue.Queue()
    for group in jobs(names, dict((name, plans[name][1]) for name in names), seconds):
        work.put(group)
    runner = Runner(times, logs, plans)
    threads = [threading.Thread(target=runner.lane, args=(work,)) for dummy in range(max(1, lanes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os.makedirs(os.path.dirname(HISTORY), exist_ok=True)
    with open(HISTORY, "w", encoding="utf-8") as out:
        json.dump(dict(known, **runner.seconds), out, indent=1, sort_keys=True)
    for name, action, path, begun_at, ended_at in runner.failed_output:
        with open(path, "rb") as log:
            log.seek(begun_at)
            lines = log.read(ended_at - begun_at).decode("utf-8", "replace").splitlines()
        sys.stdout.write("\n==> %s %s failed; its last %d lines:\n%s\n"
                         % (name, action, FAILED_TAIL_LINES, "\n".join(lines[-FAILED_TAIL_LINES:])))
    if runner.failed:
        sys.exit("failed: " + ", ".join(runner.failed))


if __name__ == "__main__":
    main(sys.argv[1:])
