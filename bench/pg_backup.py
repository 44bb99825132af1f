"""Benchmark: the scheduled backup's logical backup against the usual script.

Run on demand (not a test), as root, on a machine with Debian's postgresql-15
(apt install postgresql-15) and the project's .venv:

    .venv/bin/python bench/pg_backup.py [--scales 20,70] [--jobs 2] [--repeat 3]

For each pgbench scale (70 is about 1 GB) it builds the database in a
throw-away cluster, then in one run compares:
  * the baseline: pg_dump -Fc to a local file, then boto3 upload_file;
  * the module: roles/postgresql_backup/files/aiplatform_pg_backup.py (the code of
    aiplatform.infra.pg_backup) streaming pg_dump -Z0 through zstd into a
    multipart upload;
and prints wall times and their ratio (the median of --repeat alternated
runs, and each run's), CPU seconds of each side (its processes and the server
backend that fed its dump) and their ratio, stored sizes, the peak RSS of the
module's process at each scale, and the restore time of the module's
pg_restore (download, verify, decode, pg_restore -j) against plain
pg_restore -j of the baseline's local dump. S3 is moto_server on 127.0.0.1
(installed into .lab/bench-moto from .lab/moto-wheels, the wheels the
postgresql_backup scenario fetches).
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
PG_BIN = "/usr/lib/postgresql/15/bin"
BUCKET = "bench"
ENDPOINT = "http://127.0.0.1:59000"
CREDS = dict(access_key="bench", secret_key="bench-secret")
MEASURE = ("import json, resource, subprocess, sys, time; t = time.monotonic(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(json.dumps(dict(rc=rc, wall=time.monotonic() - t, cpu=u.ru_utime + u.ru_stime, "
           "rss_mb=u.ru_maxrss / 1024)))")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RESTORE = """
import json, sys
from ansible_collections.aiplatform.infra.plugins.module_utils.backup import catalog, pgtools, restore, s3
params = json.loads(sys.argv[1])
store = s3.Store(s3.client(params), params['bucket'])
chosen = catalog.resolve(catalog.list_backups(store, params['prefix']), 'latest', 'logical')
manifest = catalog.read_manifest(store, params['prefix'], chosen['id'])
print(json.dumps(restore.restore_logical(params, pgtools.Server(params), store, manifest)))
"""


def run(*argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, universal_newlines=True, **kwargs).stdout


def server_cpu(postmaster):
    """CPU seconds of the server's ended backends (the postmaster's reaped children), so far."""
    fields = pathlib.Path("/proc/%d/stat" % postmaster).read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def measured(*argv, env=None, postmaster=None):
    """Runs argv in a fresh measuring process: wall seconds, CPU seconds of its processes (and, with
    postmaster, of the server backends it used: the machine is shared, CPU time holds under load where
    wall time does not) and peak RSS (MiB) of its largest process."""
    before = server_cpu(postmaster) if postmaster else 0
    out = run(sys.executable, "-c", MEASURE, *argv, env=env)
    result = json.loads(out.strip().splitlines()[-1])
    if result["rc"]:
        raise SystemExit("%s failed with %s" % (argv[0], result["rc"]))
    if postmaster:
        time.sleep(0.5)  # the postmaster reaps the ended backend
        result["server_cpu"] = server_cpu(postmaster) - before
    return result


def start_moto(work):
    venv = ROOT / ".lab" / "bench-moto"
    if not (venv / "bin" / "moto_server").exists():
        run("python3", "-m", "venv", str(venv))
        run(str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links",
            str(ROOT / ".lab" / "moto-wheels"), "moto[server]")
    log = open(work / "moto.log", "w")
    proc = subprocess.Popen([str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", "59000"],
                            stdout=log, stderr=subprocess.STDOUT)
    client = s3_client()
    for _attempt in range(60):
        try:
            client.create_bucket(Bucket=BUCKET)
            return proc
        except Exception:  # not listening yet
            time.sleep(0.5)
    raise SystemExit("moto_server did not start; see %s" % (work / "moto.log"))


def s3_client():
    import boto3
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                        aws_access_key_id=CREDS["access_key"], aws_secret_access_key=CREDS["secret_key"])


def start_postgres(work, port):
    data, sock = work / "pgdata", work / "sock"
    sock.mkdir()
    shutil.chown(work, "postgres")
    shutil.chown(sock, "postgres")
    run("runuser", "-u", "postgres", "--", PG_BIN + "/initdb", "-D", str(data), "-U", "postgres",
        "--auth=trust", "-E", "UTF8")
    run("runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", str(data), "-l", str(work / "pg.log"),
        "-w", "-o", "-p %d -k %s -c max_wal_size=4GB -c checkpoint_timeout=30min" % (port, sock), "start")
    return data, sock


def psql(sock, port, query, db="postgres"):
    return run(PG_BIN + "/psql", "-XAtq", "-h", str(sock), "-p", str(port), "-U", "postgres", "-d", db,
               "-c", query).strip()


def bench_scale(args, work, sock, scale, env):
    port = args.port
    psql(sock, port, "DROP DATABASE IF EXISTS bench")
    psql(sock, port, "CREATE DATABASE bench")
    started = time.monotonic()
    run(PG_BIN + "/pgbench", "-i", "-q", "-s", str(scale), "-h", str(sock), "-p", str(port), "-U", "postgres",
        "bench", stderr=subprocess.DEVNULL)
    db_bytes = int(psql(sock, port, "SELECT pg_database_size('bench')"))
    print("scale %d: pgbench database %.0f MiB, built in %.0f s" % (scale, db_bytes / 2**20, time.monotonic() - started))
    pg_env = dict(env, PGHOST=str(sock), PGPORT=str(port), PGUSER="postgres")

    # Baseline: pg_dump -Fc to a file, then boto3 upload_file of that file; then
    # the module's code as the scheduled backup runs it. Alternated args.repeat
    # times; the medians are reported (the machine is shared, single runs are noisy).
    dump = work / "baseline.dump"
    upload = ("import boto3, sys; boto3.client('s3', endpoint_url=%r, region_name='us-east-1', "
              "aws_access_key_id=%r, aws_secret_access_key=%r).upload_file(sys.argv[1], %r, sys.argv[2])"
              % (ENDPOINT, CREDS["access_key"], CREDS["secret_key"], BUCKET))
    config = dict(bucket=BUCKET, endpoint_url=ENDPOINT, prefix="module-s%d" % scale, databases=["bench"],
                  login_host=str(sock), login_port=port, bin_dir=PG_BIN, part_size_mb=16, **CREDS)
    (work / "config.json").write_text(json.dumps(config))
    state = work / "state"
    state.mkdir(exist_ok=True)
    runs = []
    postmaster = int((work / "pgdata" / "postmaster.pid").read_text().split()[0])
    for attempt in range(args.repeat):
        measures = {}
        # Alternated order: the module first on even runs, the baseline first on odd ones.
        for side in ("module", "baseline") if attempt % 2 == 0 else ("baseline", "module"):
            if side == "baseline":
                measures["dumped"] = measured(PG_BIN + "/pg_dump", "-Fc", "-f", str(dump), "bench", env=pg_env,
                                              postmaster=postmaster)
                measures["uploaded"] = measured(sys.executable, "-c", upload, str(dump), "baseline/s%d.dump" % scale,
                                                env=pg_env)
            else:
                measures["module"] = measured(
                    sys.executable, str(ROOT / "roles/postgresql_backup/files/aiplatform_pg_backup.py"), "--config",
                    str(work / "config.json"), "--state-dir", str(state), env=env, postmaster=postmaster)
        dumped, uploaded, module = measures["dumped"], measures["uploaded"], measures["module"]
        base_cpu = dumped["cpu"] + dumped["server_cpu"] + uploaded["cpu"]
        module_cpu = module["cpu"] + module["server_cpu"]
        runs.append((dumped["wall"] + uploaded["wall"], module["wall"], dumped, uploaded, module, base_cpu, module_cpu))
        print("  run %d: baseline %.2f s (CPU %.2f s: pg_dump %.2f, server %.2f, upload %.2f), module %.2f s "
              "(CPU %.2f s: module and pg_dump %.2f, server %.2f), ratio %.2f, CPU ratio %.2f" % (
                  len(runs), runs[-1][0], base_cpu, dumped["cpu"], dumped["server_cpu"], uploaded["cpu"],
                  runs[-1][1], module_cpu, module["cpu"], module["server_cpu"], runs[-1][1] / runs[-1][0],
                  module_cpu / base_cpu), flush=True)
    ratios = sorted(r[1] / r[0] for r in runs)
    baseline_wall, module_wall, dumped, uploaded, module, base_cpu, module_cpu = sorted(
        runs, key=lambda r: r[1] / r[0])[len(runs) // 2]
    cpu_ratios = sorted(r[6] / r[5] for r in runs)
    baseline_size = dump.stat().st_size
    stored = json.loads((state / "state.json").read_text())["last_stored_bytes"]

    # Restore: the module's path against plain pg_restore -j of the local dump.
    psql(sock, port, "DROP DATABASE IF EXISTS plain_restore")
    psql(sock, port, "CREATE DATABASE plain_restore")
    plain = measured(PG_BIN + "/pg_restore", "-j", str(args.jobs), "-d", "plain_restore", str(dump), env=pg_env)
    psql(sock, port, "DROP DATABASE IF EXISTS module_restore")
    restore_params = dict(config, replace=False, database="bench", target_database="module_restore", owner=None,
                          no_owner=False, jobs=args.jobs, work_dir=str(work), count_rows=False, login_user="postgres",
                          region="us-east-1", validate_certs=True, encryption_passphrase=None)
    restored = measured(sys.executable, "-c", RESTORE, json.dumps(restore_params), env=env)
    counts = [psql(sock, port, "SELECT count(*) FROM pgbench_accounts", db=d) for d in ("bench", "module_restore")]
    assert counts[0] == counts[1], counts
    for name in ("plain_restore", "module_restore", "bench"):
        psql(sock, port, "DROP DATABASE %s" % name)
    dump.unlink()
    return dict(scale=scale, db_mib=db_bytes / 2**20, baseline_dump_s=dumped["wall"], baseline_upload_s=uploaded["wall"],
                baseline_s=baseline_wall, module_s=module_wall, ratio=module_wall / baseline_wall, ratios=ratios,
                baseline_cpu_s=base_cpu, module_cpu_s=module_cpu, cpu_ratio=cpu_ratios[len(runs) // 2],
                cpu_ratios=cpu_ratios,
                module_rss_all_mb=[r[4]["rss_mb"] for r in runs],
                baseline_mib=baseline_size / 2**20, module_mib=stored / 2**20, module_rss_mb=module["rss_mb"],
                baseline_pg_dump_rss_mb=dumped["rss_mb"], baseline_upload_rss_mb=uploaded["rss_mb"],
                plain_restore_s=plain["wall"], module_restore_s=restored["wall"],
                module_restore_rss_mb=restored["rss_mb"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="20,70", help="pgbench scales, comma-separated (70: about 1 GB)")
    parser.add_argument("--jobs", type=int, default=2, help="pg_restore -j")
    parser.add_argument("--port", type=int, default=55432)
    parser.add_argument("--repeat", type=int, default=3, help="backup comparisons per scale (medians reported)")
    args = parser.parse_args()
    if os.geteuid() != 0 or not os.path.exists(PG_BIN + "/initdb"):
        raise SystemExit("run as root with postgresql-15 installed (apt install postgresql-15)")
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".lab" / "collections"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="aip-bench-", dir="/var/tmp"))
    moto = start_moto(work)
    data = None
    try:
        data, sock = start_postgres(work, args.port)
        results = [bench_scale(args, work, sock, int(s), env) for s in args.scales.split(",")]
    finally:
        if data is not None:
            subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", str(data), "-m", "fast",
                            "stop"], check=False, stdout=subprocess.DEVNULL)
        moto.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print("\n%-6s %8s | %8s %8s %8s | %8s %6s | %8s %8s %6s | %9s %9s | %8s | %9s %9s" % (
        "scale", "DB MiB", "dump s", "upload s", "base s", "module s", "ratio", "base CPU", "mod CPU", "ratio",
        "base MiB", "mod MiB", "mod RSS", "pg_rest s", "mod rest s"))
    for r in results:
        print("%-6d %8.0f | %8.1f %8.1f %8.1f | %8.1f %6.2f | %8.1f %8.1f %6.2f | %9.1f %9.1f | %6.0fMB | %9.1f %9.1f" % (
            r["scale"], r["db_mib"], r["baseline_dump_s"], r["baseline_upload_s"], r["baseline_s"], r["module_s"],
            r["ratio"], r["baseline_cpu_s"], r["module_cpu_s"], r["cpu_ratio"], r["baseline_mib"], r["module_mib"],
            r["module_rss_mb"], r["plain_restore_s"], r["module_restore_s"]))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
