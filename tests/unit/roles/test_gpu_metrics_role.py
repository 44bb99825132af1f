"""The gpu_metrics role's NVIDIA CUDA repository and systemd units, rendered as the role renders them.

NVIDIA's repository is not reachable from the test machines and the test
hosts have no GPU: the dcgm-exporter path is checked as written only.
"""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

ROLE = pathlib.Path(__file__).parents[3] / "roles" / "gpu_metrics"


def render(tmp_path, template, facts, **extra):
    """The role's template (a name under templates/, or a path) rendered with its defaults, vars and extra."""
    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    variables.update(extra, ansible_facts=facts, ansible_python_interpreter=sys.executable)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    source = template if isinstance(template, pathlib.Path) else ROLE / "templates" / (template + ".j2")
    dest = tmp_path / source.name
    subprocess.run(["ansible", "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.template",
                    "-a", "src=%s dest=%s" % (source, dest),
                    "-e", "@%s" % (tmp_path / "vars.json")], check=True, capture_output=True, text=True)
    return dest.read_text()


def repository(tmp_path, facts, **extra):
    """The repository URL, key URL and key the role hands aiplatform.infra.common."""
    template = tmp_path / "repository.j2"
    template.write_text('{{ [gpu_metrics_nvidia_repo_url, gpu_metrics_nvidia_key_url, gpu_metrics_nvidia_key_content]'
                        ' | to_json }}')
    return json.loads(render(tmp_path, template, facts, **extra))


@pytest.mark.parametrize("facts, path", [
    ({"distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12"}, "debian12"),
    ({"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24"}, "ubuntu2404"),
])
def test_cuda_repository_is_nvidias_for_the_distribution(tmp_path, facts, path):
    url = "https://developer.download.nvidia.com/compute/cuda/repos/%s/x86_64/" % path
    assert repository(tmp_path, facts) == [url, url + "3bf863cc.pub", ""]


def test_cuda_repository_is_the_driver_roles_where_it_is_set(tmp_path):
    facts = {"distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12"}
    assert repository(tmp_path, facts, nvidia_driver_nvidia_repo_url="https://mirror.example/cuda/",
                      nvidia_driver_nvidia_key_url="https://mirror.example/key.asc",
                      nvidia_driver_nvidia_key_content="KEY") == [
        "https://mirror.example/cuda/", "https://mirror.example/key.asc", "KEY"]


def test_units_run_the_collector_on_the_interval(tmp_path):
    facts = {"distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12"}
    service = render(tmp_path, "service", facts)
    assert ("ExecStart=/usr/bin/python3 /usr/local/lib/aiplatform/gpu_metrics.py "
            "--output /var/lib/prometheus/node-exporter/gpu.prom") in service
    assert "ReadWritePaths=/var/lib/prometheus/node-exporter" in service
    timer = render(tmp_path, "timer", facts, gpu_metrics_interval=30)
    assert "OnUnitActiveSec=30\n" in timer and "WantedBy=timers.target" in timer
