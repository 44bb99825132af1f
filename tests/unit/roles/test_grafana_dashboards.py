"""The grafana role's dashboards: valid JSON, the provisioned data source only, real metric names.

Each query's metric names must be ones the exporter Debian 12 ships publishes
(or the backup role's and the GPU collector's own), so that a typo or a name
from another exporter version fails here and not as an empty panel.
"""

import json
import pathlib
import re

import pytest
import yaml

from ansible_collections.aiplatform.infra.plugins.module_utils import gpu_metrics

ROLE = pathlib.Path(__file__).parents[3] / "roles" / "grafana"
DASHBOARDS = sorted((ROLE / "files" / "dashboards").glob("*.json"))
UID = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_grafana_datasource_uid"]

# Metric names by source, as the named version publishes them.
KNOWN = {
    # Prometheus itself, for every target.
    "prometheus": {"up"},
    # prometheus-node-exporter 1.5 (Debian 12), default collectors.
    "node": {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
             "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_filesystem_files_free",
             "node_filesystem_files", "node_load15", "node_network_receive_bytes_total",
             "node_network_transmit_bytes_total", "node_timex_offset_seconds", "node_uname_info"},
    # prometheus-nginx-exporter 0.11 (Debian 12) reading stub_status: its README's list, complete.
    "nginx": {"nginx_up", "nginx_connections_accepted", "nginx_connections_active", "nginx_connections_handled",
              "nginx_connections_reading", "nginx_connections_waiting", "nginx_connections_writing",
              "nginx_http_requests_total"},
    # prometheus-postgres-exporter 0.11 (Debian 12): built-in maps, the database collector, pg_settings,
    # and pg_replication_lag from the package's example queries.yaml.
    "postgres": {"pg_up", "pg_stat_database_numbackends", "pg_settings_max_connections",
                 "pg_stat_replication_pg_current_wal_lsn_bytes", "pg_stat_replication_pg_wal_lsn_diff",
                 "pg_replication_lag", "pg_replication_slots_pg_wal_lsn_diff", "pg_replication_slots_active",
                 "pg_stat_database_xact_commit", "pg_stat_database_xact_rollback", "pg_database_size_bytes"},
    # The backup role's textfile metrics (issue 7's names).
    "backup": {"aiplatform_backup_last_success_timestamp_seconds", "aiplatform_backup_last_duration_seconds",
               "aiplatform_backup_last_size_bytes", "aiplatform_backup_failures_total"},
    # NVIDIA's dcgm-exporter, and this collection's collector that writes the same names.
    "dcgm": {"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_GPU_UTIL",
             "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
             "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"},
}
SOURCES = {"hosts": ["node"], "nginx": ["nginx"], "postgresql": ["postgres"], "backups": ["backup"],
           "gpu": ["dcgm"]}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def metric_names(expr):
    """Metric names in a PromQL expression (or a label_values() query), without a full parser."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                     # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                                # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                               # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", expr)
    names = set()
    for found in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        if not found.group(2) and found.group(1).lower() not in KEYWORDS:
            names.add(found.group(1))
    return names


def queries(dashboard):
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        yield "variable " + variable["name"], variable["query"]["query"]


def datasources(node):
    if isinstance(node, dict):
        if "datasource" in node:
            yield node["datasource"]
        for value in node.values():
            yield from datasources(value)
    elif isinstance(node, list):
        for value in node:
            yield from datasources(value)


def load(path):
    with open(path) as handle:
        return json.load(handle)


def test_every_shipped_dashboard_is_a_file():
    shipped = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_grafana_shipped_dashboards"]
    assert sorted(shipped) == sorted(p.stem for p in DASHBOARDS) == sorted(SOURCES)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_names_only_the_provisioned_data_source(path):
    dashboard = load(path)
    found = list(datasources(dashboard))
    assert found, "no data source named"
    assert all(source == {"type": "prometheus", "uid": UID} for source in found), found
    assert all(panel.get("datasource") and panel["targets"] for panel in dashboard["panels"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_queries_use_known_metric_names(path):
    known = set(KNOWN["prometheus"]).union(*(KNOWN[source] for source in SOURCES[path.stem]))
    for title, expr in queries(load(path)):
        names = metric_names(expr)
        assert names, "%s: no metric in %r" % (title, expr)
        assert names <= known, "%s: unknown metric(s) %s in %r" % (title, sorted(names - known), expr)


def test_dcgm_names_are_the_ones_the_collector_writes():
    assert KNOWN["dcgm"] == {name for name, _kind, _help, _field in gpu_metrics.DCGM_METRICS}


def test_dashboard_uids_are_unique():
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("expr, names", [
    ('100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))', {"node_cpu_seconds_total"}),
    ('sum by (instance) (a_total{x="by (y)"}) / on (instance) group_left b', {"a_total", "b"}),
    ("time() - aiplatform_backup_last_success_timestamp_seconds offset 1h", {"aiplatform_backup_last_success_timestamp_seconds"}),
    ("label_values(DCGM_FI_DEV_GPU_TEMP, Hostname)", {"DCGM_FI_DEV_GPU_TEMP"}),
    ("rate(x[$__rate_interval]) > bool 0", {"x"}),
])
def test_metric_names(expr, names):
    assert metric_names(expr) == names
