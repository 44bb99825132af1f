"""grafana and gpu_metrics on gf-mon: Grafana's files as written and checked, its apt source read by apt, no GPU."""

import json
import pathlib

import pytest
import yaml

testinfra_hosts = ["gf-mon"]

ROOT = pathlib.Path(__file__).parents[3]
CHECK = "python3 /usr/local/lib/aiplatform/grafana_check.py"
DASHBOARDS = "/var/lib/grafana/dashboards/aiplatform"
SOURCE = "/etc/apt/sources.list.d/grafana.sources"
GRAFANA_PACKAGES = "https://apt.grafana.com/dists/stable/main/binary-amd64/Packages"


def test_grafana_ini_listens_on_the_host_address_without_anonymous_access(host):
    ini = host.file("/etc/grafana/grafana.ini")
    assert (ini.user, ini.group, ini.mode) == ("root", "grafana", 0o640)
    text = ini.content_string
    assert "http_addr = 172.30.83.10\nhttp_port = 3000\n" in text
    assert 'admin_password = """gf-test-admin-secret"""' in text
    assert "[auth.anonymous]\nenabled = false\n" in text


def test_data_source_points_at_the_monitoring_hosts_prometheus(host):
    document = yaml.safe_load(host.file("/etc/grafana/provisioning/datasources/aiplatform.yaml").content_string)
    (source,) = document["datasources"]
    assert (source["uid"], source["type"], source["url"]) == (
        "aiplatform-prometheus", "prometheus", "http://172.30.83.10:9090")


def test_every_dashboard_is_in_place_and_names_the_provisioned_data_source(host):
    provider = yaml.safe_load(host.file("/etc/grafana/provisioning/dashboards/aiplatform.yaml").content_string)
    assert provider["providers"][0]["options"]["path"] == DASHBOARDS
    names = sorted(host.file(DASHBOARDS).listdir())
    assert names == ["backups.json", "gpu.json", "hosts.json", "nginx.json", "postgresql.json"]
    for name in names:
        dashboard = json.loads(host.file("%s/%s" % (DASHBOARDS, name)).content_string)
        assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"aiplatform-prometheus"}
    assert host.run(CHECK + " all").rc == 0


@pytest.fixture
def broken_dashboard(host):
    path = "%s/zz-broken.json" % DASHBOARDS
    host.check_output("printf '%%s' '{\"uid\": \"x\", \"panels\": [{\"datasource\": {\"uid\": \"other\"}}]}' > %s" % path)
    yield path
    host.check_output("rm -f %s" % path)


def test_checker_in_place_refuses_a_foreign_data_source(host, broken_dashboard):
    result = host.run(CHECK + " all")
    assert result.rc == 1 and "is not the provisioned one" in result.stderr


def test_apt_reads_grafanas_source_with_its_key(host):
    fields = dict(line.split(": ", 1) for line in host.file(SOURCE).content_string.splitlines()
                  if line and not line.startswith("#"))
    assert fields["Signed-By"] == "/etc/apt/keyrings/grafana.asc"
    assert "BEGIN PGP PUBLIC KEY BLOCK" in host.file("/etc/apt/keyrings/grafana.asc").content_string
    # apt's own parser: the index targets it would fetch from this source.
    targets = host.check_output("apt-get indextargets --no-release-info --format '$(URI)'").splitlines()
    assert GRAFANA_PACKAGES in targets


def test_apt_refuses_a_malformed_source(host):
    broken = "/etc/apt/sources.list.d/zz-broken.sources"
    host.check_output("printf 'Types: deb\\nURIs https://apt.grafana.com\\n' > %s" % broken)
    try:
        result = host.run("apt-get indextargets --no-release-info --format '$(URI)'")
    finally:
        host.check_output("rm -f %s" % broken)
    assert result.rc != 0 and "zz-broken.sources" in result.stderr


def test_no_gpu_no_collector(host):
    assert not host.file("/usr/local/lib/aiplatform/gpu_metrics.py").exists
    assert not host.file("/etc/systemd/system/aiplatform-gpu-metrics.timer").exists


FAKE_SMI = """#!/bin/sh
cat <<'CSV'
%s
CSV
"""


@pytest.fixture
def collector_on_host(host):
    """The collector and a stand-in nvidia-smi that prints a fixture, on the host (no GPU here)."""
    fixture = (ROOT / "tests/unit/plugins/module_utils/fixtures/nvidia-smi-collector-h100.csv").read_text().strip()
    host.ansible("copy", "src=%s dest=/tmp/gf-gpu_metrics.py mode=0644"
                 % (ROOT / "plugins/module_utils/gpu_metrics.py"), become=True, check=False)
    host.check_output("mkdir -p /tmp/gf-bin && cat > /tmp/gf-bin/nvidia-smi <<'EOF'\n%sEOF\nchmod 0755 /tmp/gf-bin/nvidia-smi"
                      % (FAKE_SMI % fixture))
    yield "PATH=/tmp/gf-bin:/usr/bin:/bin python3 /tmp/gf-gpu_metrics.py --source nvidia-smi"
    host.check_output("rm -rf /tmp/gf-bin /tmp/gf-gpu_metrics.py /var/lib/prometheus/node-exporter/gpu.prom")


def test_node_exporter_publishes_the_collectors_metrics(host, collector_on_host):
    host.check_output(collector_on_host)
    metrics = host.check_output("python3 -c \"import urllib.request; "
                                "print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())\"")
    assert 'node_textfile_scrape_error 0' in metrics
    # No driver here, so no /proc/driver/nvidia/gpus to read the minor number
    # from: the device label is left out rather than guessed.
    assert ('DCGM_FI_DEV_GPU_TEMP{DCGM_FI_DRIVER_VERSION="580.159.04",Hostname="gf-mon",'
            'UUID="GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",gpu="1",'
            'modelName="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:5E:00.0"} 83') in metrics
    assert 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{' in metrics


def test_failing_nvidia_smi_removes_stale_readings(host, collector_on_host):
    host.check_output(collector_on_host)
    host.check_output("printf '#!/bin/sh\\necho GPU is lost >&2\\nexit 9\\n' > /tmp/gf-bin/nvidia-smi")
    result = host.run(collector_on_host)
    assert result.rc == 1 and "nvidia-smi failed (rc 9): GPU is lost" in result.stderr
    assert not host.file("/var/lib/prometheus/node-exporter/gpu.prom").exists
