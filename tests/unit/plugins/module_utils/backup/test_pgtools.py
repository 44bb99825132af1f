# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import pgtools
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError


@pytest.mark.parametrize('size', [0, 1, pgtools.READ_SIZE, 3 * pgtools.READ_SIZE + 17])
def test_chunks_are_the_whole_output_in_views_of_one_buffer(tmp_path, size):
    data = os.urandom(size)
    (tmp_path / 'out').write_bytes(data)
    with pgtools.Command(['cat', str(tmp_path / 'out')], dict(os.environ)) as command:
        views = []
        received = bytearray()
        for chunk in command.chunks():
            views.append(chunk.obj)
            received += chunk
        command.wait()
    assert bytes(received) == data
    assert len(set(id(v) for v in views)) <= 1


def test_a_failure_names_the_program_not_stdbuf():
    with pgtools.Command(['sh', '-c', 'echo "pg_dump: error: no such database" >&2; exit 3'], dict(os.environ)) as command:
        list(command.chunks())
        with pytest.raises(BackupError, match=r'^sh failed \(exit 3\): pg_dump: error: no such database$'):
            command.wait()


@pytest.mark.parametrize('argv, message', [(['true'], '^true stopped reading its input$'),
                                           (['sh', '-c', 'exit 4'], r'^sh failed \(exit 4\): no message$')])
@pytest.mark.parametrize('size', [100, 8 * pgtools.READ_SIZE])
def test_input_a_program_did_not_read_fails_by_its_exit_status(argv, message, size):
    # 100 bytes stay in the writer's buffer until wait() closes the pipe; 8 MiB break it in write().
    with pgtools.Command(argv, dict(os.environ), stdin=True) as command:
        command.proc.wait()
        with pytest.raises(BackupError, match=message):
            command.write(b'x' * size)
            command.wait()
