"""The environment that runs the lab's playbooks under a strategy.

scripts/lab (use_lab_strategy) and the bench (bench/_lab.py) both take it
from here; the Molecule stage (scenario_runner.py) takes the strategy alone
(strategy_plugins), as Molecule sets the collections path itself. Under
mitogen (docs/lab.md, "Converge speed"), each module call of each
task and host lists every collection Ansible can see, so Ansible sees only
the collections already on its path and the lab's dependencies
(.lab/dependencies, linked by scripts/setup), not the 93 of the ansible
package. Ansible's own linear strategy needs nothing.

    python scripts/lib/lab_strategy.py STRATEGY STATE_DIR COLLECTIONS_PATH

prints the environment as shell exports.
"""

import os
import shlex
import sys


def strategy_plugins(strategy):
    """The strategy and where its plugin is; exits with why it cannot."""
    if strategy == "linear":
        return {}
    try:
        import ansible_mitogen  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.exit("mitogen is not installed (scripts/setup installs requirements.txt)")
    return {"ANSIBLE_STRATEGY_PLUGINS": os.path.join(os.path.dirname(ansible_mitogen.__file__),
                                                     "plugins", "strategy"),
            "ANSIBLE_STRATEGY": strategy}


def strategy_env(strategy, state, collections_path):
    """Environment overrides that run strategy with the lab's collections alone."""
    if strategy == "linear":
        return {}
    dependencies = os.path.join(state, "dependencies")
    if not os.path.isdir(dependencies):
        sys.exit("%s is missing: run scripts/setup" % dependencies)
    return dict(strategy_plugins(strategy),
                ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([collections_path, dependencies]),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False")


if __name__ == "__main__":
    for name, value in strategy_env(*sys.argv[1:4]).items():
        print("export %s=%s" % (name, shlex.quote(value)))
