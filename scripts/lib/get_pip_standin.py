# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip.py that ansible-test downloads from its CI file host.

That host is not reachable from this project's machines. scripts/lib/sanity.sh
saves this file where ansible-test looks for its cached copy. It installs pip
from the interpreter's own wheel, then the pinned packages it was given.
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys


def main():
    """Bootstrap pip, then install the requested pins (e.g. pip==24.2)."""
    ensurepip.bootstrap(upgrade=True)
    # ensurepip points PIP_CONFIG_FILE at /dev/null, which would hide the
    # machine's pip configuration (its CA bundle among it) from the next call.
    os.environ.pop('PIP_CONFIG_FILE', None)
    packages = [arg for arg in sys.argv[1:] if not arg.startswith('-')]
    if packages:
        subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check'] + packages)


if __name__ == '__main__':
    main()
