# The controller's Python environment, from requirements.txt. Sourced by
# scripts/setup.
# shellcheck shell=bash

ensure_venv() {
  local stamp="$AIP_VENV/.requirements.sha256" want
  want=$(sha256sum "$AIP_ROOT/requirements.txt" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing controller dependencies into $AIP_VENV"
    [ -x "$AIP_VENV/bin/python" ] || python3 -m venv "$AIP_VENV"
    "$AIP_VENV/bin/pip" install -q --disable-pip-version-check -r "$AIP_ROOT/requirements.txt" \
      || die "pip install -r requirements.txt failed"
    echo "$want" >"$stamp"
  fi
  # The collection under test, found by name like an installed one.
  mkdir -p "$AIP_STATE/collections/ansible_collections/aiplatform"
  ln -sfn "$AIP_ROOT" "$AIP_STATE/collections/ansible_collections/aiplatform/infra"
  link_dependencies
}

# link_dependencies: $AIP_STATE/dependencies holds links to the collections the
# lab's playbooks use (galaxy.yml's dependencies and community.docker for the
# app stand-in), taken from the pinned ansible package. scripts/lab and the
# bench show Ansible these alone under mitogen (docs/lab.md, "Converge speed").
link_dependencies() {
  local site name dest="$AIP_STATE/dependencies/ansible_collections"
  site=$("$AIP_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  rm -rf "$AIP_STATE/dependencies"
  for name in $("$AIP_VENV/bin/python" -c 'import sys, yaml
print(*yaml.safe_load(open(sys.argv[1]))["dependencies"])' "$AIP_ROOT/galaxy.yml") community.docker; do
    [ -d "$site/ansible_collections/${name/.//}" ] || die "collection $name is not in $AIP_VENV"
    mkdir -p "$dest/${name%%.*}"
    ln -s "$site/ansible_collections/${name/.//}" "$dest/${name/.//}"
  done
}

activate_venv() {
  # shellcheck disable=SC1091
  . "$AIP_VENV/bin/activate"
  export ANSIBLE_COLLECTIONS_PATH="$AIP_STATE/collections"
  export ANSIBLE_CONFIG="$AIP_ROOT/ansible.cfg"
  # Keep Ansible's own state (Molecule's copy of this collection among it)
  # out of the user's ~/.ansible, where a stale copy would shadow the tree.
  export ANSIBLE_HOME="$AIP_STATE/ansible-home"
  # Molecule and ansible-lint put a copy (or a link) of this collection there,
  # found before the tree; a copy left by an earlier run lacks what was added
  # since, so every run starts without it.
  rm -rf "$ANSIBLE_HOME/collections/ansible_collections/aiplatform"
}
