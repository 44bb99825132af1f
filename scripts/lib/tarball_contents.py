"""The built collection tarball holds the collection and nothing else.

    python scripts/lib/tarball_contents.py TARBALL

fails (exit 1, each offending member named) when the tarball is over
MAX_BYTES, holds a file under a folder that is the project's and not the
collection's (the lab's inventory with its clear-text secrets, the bench,
the lab playbooks, the tests), or a binary package or archive; or lacks what
a user installs it for. Called by scripts/test (package stage).
"""

import fnmatch
import os
import sys
import tarfile

MAX_BYTES = 1024 * 1024
# Folders of the repository that are not the collection.
PROJECT_ONLY = ('inventories/lab/', 'bench/', 'playbooks/lab/', 'molecule/', 'tests/', 'scripts/', '.lab/', '.ci/')
BINARIES = ('*.deb', '*.rpm', '*.tar.gz', '*.tgz', '*.whl', '*.zip', '*.so', '*.pyc')
REQUIRED = ('MANIFEST.json', 'FILES.json', 'README.md', 'meta/runtime.yml', 'plugins/modules/pg_backup.py',
            'plugins/module_utils/backup/options.py', 'roles/postgresql/meta/argument_specs.yml',
            'playbooks/site.yml', 'inventories/production/hosts.yml')


def problems(path):
    found = []
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        found.append('the tarball is %d bytes, over %d' % (size, MAX_BYTES))
    with tarfile.open(path) as tarball:
        names = [member.name for member in tarball.getmembers() if member.isfile()]
    for name in names:
        if name.startswith(PROJECT_ONLY):
            found.append('%s is the project\'s, not the collection\'s (galaxy.yml build_ignore)' % name)
        elif any(fnmatch.fnmatch(os.path.basename(name), pattern) for pattern in BINARIES):
            found.append('%s is a binary or an archive' % name)
    found += ['%s is missing' % name for name in REQUIRED if name not in names]
    return found


def main():
    found = problems(sys.argv[1])
    for line in found:
        print('tarball: ' + line, file=sys.stderr)
    if not found:
        name, size = os.path.basename(sys.argv[1]), os.path.getsize(sys.argv[1])
        print('tarball: %s, %d bytes, the collection only' % (name, size))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
