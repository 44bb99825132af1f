"""VM-like lab hosts: systemd containers reached over SSH as a sudo user.

scripts/lab (its hosts) and the bench (bench/_lab.py, its bn-* hosts) both
start and provision hosts here, so that a lab host and a bench host are made
alike.

    python3 lab_hosts.py start NAME ADDRESS IMAGE NETWORK LABEL VOLUME KEY

starts NAME (unless it runs) from IMAGE on NETWORK at ADDRESS, labelled
LABEL, with /var/lib/docker on VOLUME (overlay on overlay fails for a Docker
engine inside), and lets admin in with the public key KEY.pub and sudo
without a password.
"""

import subprocess
import sys
import time

USER = "admin"
# The capabilities a systemd host needs, without SYS_RESOURCE, which this
# machine's bounding set lacks (--privileged fails for that reason).
RUN_OPTS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--stop-signal", "SIGRTMIN+3",
]
PROVISION = r"""
set -e
user=$1 key=$2
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo "$user"
install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
printf '%s\n' "$key" >"/home/$user/.ssh/authorized_keys"
chown "$user:$user" "/home/$user/.ssh/authorized_keys"
chmod 0600 "/home/$user/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/90-$user"
chmod 0440 "/etc/sudoers.d/90-$user"
"""


def _docker(*args, check=True, **kwargs):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, **kwargs)


def run(name, address, image, network, label, volume, cpus=None):
    """Starts the host's container unless it runs; cpus caps its CPU time (docker run --cpus)."""
    if _docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip() == "true":
        return
    _docker("rm", "-f", name, check=False)
    _docker("run", "-d", "--name", name, "--hostname", name, "--label", label, "--network", network,
            "--ip", address, "-v", volume + ":/var/lib/docker", *RUN_OPTS,
            *(["--cpus", str(cpus)] if cpus else []), image, "/lib/systemd/systemd")


def provision(name, pubkey):
    """Lets USER in with pubkey and sudo; a host still booting may refuse useradd for a moment."""
    for dummy in range(30):
        proc = _docker("exec", "-i", name, "bash", "-s", USER, pubkey, input=PROVISION, check=False)
        if proc.returncode == 0:
            return
        time.sleep(2)
    sys.exit("could not add the %s user on %s: %s" % (USER, name, proc.stderr.strip()))


def main(argv):
    if len(argv) != 8 or argv[0] != "start":
        sys.exit(__doc__)
    name, address, image, network, label, volume, key = argv[1:]
    with open(key + ".pub", encoding="utf-8") as handle:
        pubkey = handle.read().strip()
    run(name, address, image, network, label, volume)
    provision(name, pubkey)


if __name__ == "__main__":
    main(sys.argv[1:])
