# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import split
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError


@pytest.mark.parametrize('blocks, parts, ranges', [
    (100, 2, [(None, 50), (50, None)]),
    (10, 3, [(None, 3), (3, 6), (6, None)]),
    (2, 4, [(None, 1), (1, None)]),  # no empty range
    (1, 2, [(None, None)]),
    (0, 2, [(None, None)]),  # an empty table is still copied (its rows may have come since the size was read)
])
def test_block_ranges_cover_the_table_once_with_open_ends(blocks, parts, ranges):
    assert split.block_ranges(blocks, parts) == ranges


@pytest.mark.parametrize('first, end, condition', [
    (None, None, ''),
    (None, 50, " WHERE ctid < '(50,0)'::tid"),
    (50, None, " WHERE ctid >= '(50,0)'::tid"),
    (3, 6, " WHERE ctid >= '(3,0)'::tid AND ctid < '(6,0)'::tid"),
])
def test_range_condition(first, end, condition):
    assert split.range_condition(first, end) == condition


def test_qualified_quotes_so_that_nothing_is_a_wildcard():
    assert split.qualified('app', 'Ev"t*') == '"app"."Ev""t*"'


def test_a_part_reads_its_range_of_the_table_alone_and_loads_back_the_same_columns():
    part = split.Part('app db', 'My', 'ev"ents', ['id', 'Body'], 'text', 2, (50, None), 'UTF8', '.zst')
    assert part.name == 'db-app%20db.My.ev%22ents.2.copy.zst'
    assert part.copy_out() == ('COPY (SELECT "id", "Body" FROM ONLY "My"."ev""ents" WHERE ctid >= \'(50,0)\'::tid) '
                               'TO STDOUT (FORMAT text)')
    entry = part.entry()
    assert entry == dict(name=part.name, database='app db', table='My.ev"ents', schema='My', relation='ev"ents',
                         columns=['id', 'Body'], copy_format='text', part=2, encoding='UTF8')
    assert split.copy_in(entry).as_string(None) == 'COPY "My"."ev""ents" ("id", "Body") FROM STDIN (FORMAT text)'


@pytest.mark.parametrize('change', [dict(copy_format='text); DROP TABLE x; --'), dict(relation='x"; DROP TABLE y; --')])
def test_an_altered_manifest_reaches_the_sql_only_quoted(change):
    entry = dict(split.Part('db', 'public', 'big', ['id'], 'binary', 1, (None, None), 'UTF8', '').entry(), **change)
    if 'copy_format' in change:
        with pytest.raises(BackupError, match="unknown copy_format 'text.; DROP TABLE x; --': the manifest was altered"):
            split.copy_in(entry)
    else:
        assert split.copy_in(entry).as_string(None) == (
            'COPY "public"."x""; DROP TABLE y; --" ("id") FROM STDIN (FORMAT binary)')


def test_psql_imports_the_snapshot_before_its_statement():
    argv = split.psql_argv('/usr/bin/psql', 'appdb', '0000-1', 'COPY x TO STDOUT')
    assert argv[:7] == ['/usr/bin/psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'appdb']
    assert argv[7:] == ['-c', "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '0000-1'",
                        '-c', 'COPY x TO STDOUT', '-c', 'COMMIT']
