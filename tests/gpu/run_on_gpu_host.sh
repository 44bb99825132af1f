#!/usr/bin/env bash
# The collection's GPU code on a real NVIDIA host, read-only:
#   tests/gpu/run_on_gpu_host.sh OUTDIR
# - records what the parsers read (record_outputs.sh) into OUTDIR/outputs;
# - runs check_mode.yml with --check --diff over a local connection: the
#   driver role must report nothing to change, the GPU facts and the health
#   check read the card; fails unless the recap says changed=0 failed=0;
# - runs the health check's GPU check again with the system Python when that
#   one has no NVML binding (nvidia-smi path);
# - runs the GPU metrics collector from NVML and from nvidia-smi.
# Needs ansible-core (ansible-playbook on PATH) and python3. Nothing here
# changes a setting of the card or the host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: run_on_gpu_host.sh OUTDIR}
mkdir -p "$out"
status=0

"$here/record_outputs.sh" "$out/outputs" >/dev/null

collections=$(mktemp -d)
mkdir -p "$collections/ansible_collections/aiplatform"
ln -s "$root" "$collections/ansible_collections/aiplatform/infra"
export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_CONFIG=$root/ansible.cfg
python=$(command -v python3)

echo "== check mode (driver role, GPU facts, GPU health) with $python"
ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" --check --diff \
  "$here/check_mode.yml" 2>&1 | tee "$out/check_mode.log"
grep -Eq '^localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$out/check_mode.log" \
  || { echo "FAIL: the check-mode run changed something or failed"; status=1; }

if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import pynvml' 2>/dev/null; then
  echo "== GPU health through nvidia-smi (/usr/bin/python3 has no NVML binding)"
  ansible localhost -i localhost, -c local -e ansible_python_interpreter=/usr/bin/python3 \
    -m aiplatform.infra.health_check -a '{"gpu": {}}' 2>&1 | tee "$out/health_smi.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

for source in nvml nvidia-smi; do
  echo "== GPU metrics collector, source $source"
  if python3 "$root/plugins/module_utils/gpu_metrics.py" --source "$source" --output "$out/gpu-$source.prom"; then
    cat "$out/gpu-$source.prom"
  else
    status=1
  fi
done
rm -rf "$collections"
echo "== result: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
