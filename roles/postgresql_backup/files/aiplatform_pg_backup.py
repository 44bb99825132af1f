# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scheduled PostgreSQL backup, run by aiplatform-pg-backup.service.

The same code as the aiplatform.infra.pg_backup module (its module_utils,
installed next to this script by the postgresql_backup role): a backup,
retention after success, metrics in node_exporter's textfile format.

  aiplatform-pg-backup --config FILE [--state-dir DIR]
  aiplatform-pg-backup --check-config FILE
"""

import argparse
import json
import os
import sys
import time

# The collection's backup module_utils are installed next to this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import backup, schedule  # noqa: E402
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError  # noqa: E402


def run(params):
    """pg_backup's run (backup.take), its summary printed to the journal."""
    result = backup.take(params, log=print)
    manifest = result['manifest']
    print('backup %s complete: %d bytes stored in %.1f s; retention deleted %s; aborted uploads %s' % (
        manifest['id'], manifest['stored_size'], manifest['duration'], result['expired'] or 'none',
        result['aborted_uploads'] or 'none'))
    return manifest, result['expired']


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='/etc/aiplatform/pg-backup.json')
    parser.add_argument('--check-config', metavar='FILE')
    parser.add_argument('--state-dir', default=os.environ.get('STATE_DIRECTORY', '/var/lib/aiplatform-pg-backup'))
    args = parser.parse_args()
    try:
        with open(args.check_config or args.config) as handle:
            params = schedule.load_config(handle.read())
    except (OSError, BackupError) as exc:
        sys.exit('configuration: %s' % exc)
    if args.check_config:
        return
    state_file = os.path.join(args.state_dir, 'state.json')
    try:
        with open(state_file) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        state = {}
    error = manifest = None
    expired = []
    try:
        manifest, expired = run(params)
    except BackupError as exc:
        error = str(exc)
    state = schedule.update_state(state, time.time(), manifest, expired, error)
    schedule.write_atomic(state_file, json.dumps(state, indent=2), 0o600)
    schedule.write_atomic(os.path.join(args.state_dir, 'metrics.prom'), schedule.render_metrics(state, params['kind']))
    if error:
        sys.exit('backup failed: %s' % error)


if __name__ == '__main__':
    main()
