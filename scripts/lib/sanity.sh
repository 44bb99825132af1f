# ansible-test sanity on a copy of the tree laid out as
# ansible_collections/aiplatform/infra. Sourced by scripts/test.
# shellcheck shell=bash

run_sanity() {
  local pip_version dest="$AIP_STATE/sanity/ansible_collections/aiplatform/infra"
  pip_version=$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])' 2>/dev/null || echo 24.2)
  mkdir -p ~/.ansible/test/cache
  cp "$AIP_ROOT/scripts/lib/get_pip_standin.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
  rm -rf "$dest"
  mkdir -p "$dest"
  git -C "$AIP_ROOT" ls-files -z --cached --others --exclude-standard \
    | rsync -a --from0 --files-from=- "$AIP_ROOT/" "$dest/"
  (cd "$dest" && git init -q && git add -A)
  (cd "$dest" && ansible-test sanity --python 3.11 --color no)
}
