"""The gpu_metrics role's NVIDIA CUDA source and systemd units, rendered as the role renders them.

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
    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    variables.update(extra, ansible_facts=facts, ansible_python_interpreter=sys.executable)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    dest = tmp_path / template
    subprocess.run(["ansible", "localhost", "-c", "local", "-i", "localhost,", "-m", "ansible.builtin.template",
                    "-a", "src=%s dest=%s" % (ROLE / "templates" / (template + ".j2"), dest),
                    "-e", "@%s" % (tmp_path / "vars.json")], check=True, capture_output=True, text=True)
    return dest.read_text()


def fields(text):
    return dict(line.split(": ", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("facts, path", [
    ({"distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12"}, "debian12"),
    ({"distribution": "Ubuntu", "distribution_version": "24.04", "distribution_major_version": "24"}, "ubuntu2404"),
])
def test_cuda_source_is_nvidias_flat_repository(tmp_path, facts, path):
    assert fields(render(tmp_path, "nvidia-cuda.sources", facts)) == {
        "Types": "deb",
        "URIs": "https://developer.download.nvidia.com/compute/cuda/repos/%s/x86_64/" % path,
        "Suites": "/",
        "Signed-By": "/etc/apt/keyrings/nvidia-cuda.asc",
    }


def test_units_run_the_collector_on_the_interval(tmp_path):
    facts = {"distribution": "Debian", "distribution_version": "12", "distribution_major_version": "12"}
    service = render(tmp_path, "service", facts)
    assert ("ExecStart=/usr/bin/python3 /usr/local/lib/aiplatform/gpu_metrics.py "
            "--output /var/lib/prometheus/node-exporter/gpu.prom") in service
    assert "ReadWritePaths=/var/lib/prometheus/node-exporter" in service
    timer = render(tmp_path, "timer", facts, gpu_metrics_interval=30)
    assert "OnUnitActiveSec=30\n" in timer and "WantedBy=timers.target" in timer
