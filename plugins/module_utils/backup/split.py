# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Large tables of a logical backup, copied in block ranges at once.

pg_dump reads a table through one server backend, so one large table bounds a
backup by one CPU of the server. A table of at least ``split_min_mb`` (TOAST included) is
instead read by ``jobs`` COPY statements over ranges of its blocks (a TID
range scan each), every one in a session that imported the snapshot pg_dump
uses too: the parts and the dump see one committed state. pg_dump leaves that
table's data out (``--exclude-table-data``); the restore loads the parts after
pg_restore created the table and before its indexes and constraints.

A table whose columns are all built-in types is copied in COPY's binary
format (cheaper for the server to write and read); any other table (domains,
enums, extension types, arrays or rows of them, whose binary form names
type OIDs that differ between clusters, and the reg* types, whose binary form
is the OID of the object they name) in text. Generated columns are left
out, as COPY of the table leaves them out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import quote

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.pgtools import psycopg

FIRST_NORMAL_OID = 16384  # below it: objects of initdb, the built-in types among them
# Permanent plain tables (not partitioned parents, views, unlogged tables
# that a standby cannot read, or an extension's own tables) of a size (TOAST
# included), with their copied columns and whether every column has a
# built-in binary form that does not name an object by OID (the reg* types).
SQL_LARGE_TABLES = """
SELECT n.nspname, c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int,
       array_agg(a.attname::text ORDER BY a.attnum),
       bool_and(t.oid < %(first_normal)s AND t.typsend::oid <> 0 AND t.typreceive::oid <> 0
                AND e.typname NOT LIKE 'reg%%')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type e ON e.oid = CASE WHEN t.typelem <> 0 THEN t.typelem ELSE t.oid END
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
  AND pg_table_size(c.oid) >= %(min_bytes)s
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'e')
GROUP BY n.nspname, c.relname, c.oid
ORDER BY pg_table_size(c.oid) DESC, 1, 2
"""
# What pg_dump sets for its own sessions, so that text COPY output reads back
# the same in any server (dates, intervals, floats, names qualified) and row
# security errors out rather than leaving rows behind.
SESSION_OPTIONS = ('-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c row_security=off '
                   '-c search_path=pg_catalog -c statement_timeout=0 -c lock_timeout=0 '
                   '-c idle_in_transaction_session_timeout=0')
COPY_FORMATS = ('binary', 'text')


def block_ranges(blocks, parts):
    """parts contiguous [first, end) block ranges covering a table; None is an open end.

    The last range is open, so rows in blocks added after the size was read
    (none visible to the snapshot, but the scan stays exact) are read too.
    """
    parts = max(1, min(parts, blocks))
    bounds = [blocks * k // parts for k in range(parts + 1)]
    return [(bounds[k] if k else None, bounds[k + 1] if k + 1 < parts else None) for k in range(parts)]


def range_condition(first, end):
    tests = []
    if first is not None:
        tests.append("ctid >= '(%d,0)'::tid" % first)
    if end is not None:
        tests.append("ctid < '(%d,0)'::tid" % end)
    return ' WHERE ' + ' AND '.join(tests) if tests else ''


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def qualified(schema, relation):
    """The table's name quoted: for SQL, and as pg_dump's pattern for exactly it (no character a wildcard)."""
    return '%s.%s' % (quote_ident(schema), quote_ident(relation))


class Part(object):
    """One block range of one large table, and the COPY statement that reads it."""

    def __init__(self, database, schema, relation, columns, copy_format, index, block_range, encoding, suffix):
        self.database = database
        self.schema = schema
        self.relation = relation
        self.columns = columns
        self.copy_format = copy_format
        self.index = index
        self.condition = range_condition(*block_range)
        self.encoding = encoding
        self.name = 'db-%s.%s.%s.%d.copy%s' % (quote(database, safe=''), quote(schema, safe=''),
                                               quote(relation, safe=''), index, suffix)

    def copy_out(self):
        return 'COPY (SELECT %s FROM ONLY %s%s) TO STDOUT (FORMAT %s)' % (
            ', '.join(quote_ident(c) for c in self.columns), qualified(self.schema, self.relation),
            self.condition, self.copy_format)

    def entry(self):
        """The manifest's record of this part (names as they are), without what streaming it measures."""
        return dict(name=self.name, database=self.database, table='%s.%s' % (self.schema, self.relation),
                    schema=self.schema, relation=self.relation, columns=self.columns,
                    copy_format=self.copy_format, part=self.index, encoding=self.encoding)


def copy_in(entry):
    """The statement that loads a part recorded in a manifest, its names quoted here.

    The manifest is not authenticated (encryption covers the objects only), so
    nothing of it reaches the SQL unquoted.
    """
    if entry['copy_format'] not in COPY_FORMATS:
        raise BackupError('part %s has an unknown copy_format %r: the manifest was altered'
                          % (entry['name'], entry['copy_format']))
    sql = psycopg.sql
    return sql.SQL('COPY {}.{} ({}) FROM STDIN (FORMAT {})').format(
        sql.Identifier(entry['schema']), sql.Identifier(entry['relation']),
        sql.SQL(', ').join(sql.Identifier(c) for c in entry['columns']), sql.SQL(entry['copy_format']))


def psql_argv(psql, database, snapshot, statement):
    """psql running one statement in a read-only transaction on the exported snapshot."""
    return [psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', database,
            '-c', "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '%s'" % snapshot,
            '-c', statement, '-c', 'COMMIT']


class Snapshot(object):
    """A session that holds a database's large tables locked and its snapshot, exported.

    Used as a context manager; ``id`` is None and nothing is held when the
    database has no table of min_bytes or more.
    """

    def __init__(self, server, database, min_bytes, jobs, suffix):
        self.server = server
        self.database = database
        self.min_bytes = min_bytes
        self.jobs = jobs
        self.suffix = suffix
        self.id = None
        self.parts = []
        self.excluded = []
        self.encoding = None
        self._conn = None

    def __enter__(self):
        args = dict(first_normal=FIRST_NORMAL_OID, min_bytes=self.min_bytes)
        listed = self.server.query(SQL_LARGE_TABLES, self.database, args)
        if not listed:
            return self
        self._conn = self.server.connect(self.database, autocommit=False)
        try:
            self._hold(listed, args)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def _hold(self, listed, args):
        """Locks the listed tables, then takes the snapshot (at the first query after the
        locks, so no change to them commits in between) and reads them again in it."""
        conn = self._conn
        conn.execute('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
        conn.execute('SET LOCAL idle_in_transaction_session_timeout = 0')
        conn.execute('SET LOCAL statement_timeout = 0')
        locked = set((table[0], table[1]) for table in listed)
        for schema, relation in sorted(locked):
            conn.execute('LOCK TABLE %s IN ACCESS SHARE MODE' % qualified(schema, relation))
        tables = [t for t in conn.execute(SQL_LARGE_TABLES, args).fetchall() if (t[0], t[1]) in locked]
        self.encoding = conn.execute('SELECT pg_encoding_to_char(encoding) FROM pg_database '
                                     'WHERE datname = current_database()').fetchone()[0]
        self.id = conn.execute('SELECT pg_export_snapshot()').fetchone()[0]
        for schema, relation, blocks, columns, binary in tables:
            self.excluded.append(qualified(schema, relation))
            for index, block_range in enumerate(block_ranges(blocks, self.jobs), 1):
                self.parts.append(Part(self.database, schema, relation, list(columns),
                                       'binary' if binary else 'text', index, block_range, self.encoding,
                                       self.suffix))

    def env(self):
        """The environment of a part's psql: the server's settings, pg_dump's session options."""
        env = self.server.env()
        env.update(PGOPTIONS=SESSION_OPTIONS, PGCLIENTENCODING=self.encoding)
        return env

    def close(self):
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
