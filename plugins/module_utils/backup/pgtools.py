# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The PostgreSQL side: a psycopg connection, the client programs and
running one of them with its output streamed to a callback."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import os
import re
import shutil
import signal
import subprocess
import tempfile

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

try:
    import psycopg
    from psycopg import sql as _sql
except ImportError:
    psycopg = None
    _sql = None

SQL_LSN = ('SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() '
           'ELSE pg_current_wal_lsn() END::text')
SQL_DATABASES = 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1'
SQL_TABLE_NAMES = ("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                   "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                   "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1")
F_SETPIPE_SZ = 1031  # Linux: a 1 MiB pipe, fewer wake-ups between the dump and its reader
WAL_POINT = re.compile(r'write-ahead log (start|end) point: ([0-9A-F]+/[0-9A-F]+)')
READ_SIZE = 1 << 20
# The client programs write their archive through stdio, which flushes a pipe
# every 8 KiB (pg_dump -Z0: about 90,000 writes a GiB, and as many wake-ups of
# the reader); coreutils' stdbuf makes that buffer READ_SIZE.
STDBUF = ('-o', str(READ_SIZE))


class Server(object):
    """Connection settings of one server, for psycopg and for the client programs."""

    def __init__(self, params):
        self.params = params

    def env(self):
        env = dict(os.environ, PGHOST=self.params['login_host'], PGPORT=str(self.params['login_port']),
                   PGUSER=self.params['login_user'], PGAPPNAME='aiplatform-backup',
                   PGCONNECT_TIMEOUT=str(self.params['connect_timeout']))
        if self.params.get('login_password'):
            env['PGPASSWORD'] = self.params['login_password']
        return env

    def connect(self, dbname='postgres', autocommit=True):
        # Keepalives: a server that vanishes mid-query (a dropped route) fails
        # the connection within about a minute instead of never.
        kwargs = dict(host=self.params['login_host'], port=self.params['login_port'],
                      user=self.params['login_user'], dbname=dbname, autocommit=autocommit,
                      connect_timeout=self.params['connect_timeout'], application_name='aiplatform-backup',
                      keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        if self.params.get('login_password'):
            kwargs['password'] = self.params['login_password']
        try:
            return psycopg.connect(**kwargs)
        except psycopg.Error as exc:
            raise BackupError('PostgreSQL at %s:%s does not accept the connection as %s (connect_timeout=%s s): %s' % (
                self.params['login_host'], self.params['login_port'], self.params['login_user'],
                self.params['connect_timeout'], ' '.join(str(exc).split())))

    def query(self, statement, dbname='postgres', args=None):
        with self.connect(dbname) as conn:
            return conn.execute(statement, args).fetchall()

    def version(self):
        return self.query('SHOW server_version')[0][0]

    def lsn(self):
        return self.query(SQL_LSN)[0][0]

    def databases(self):
        return [row[0] for row in self.query(SQL_DATABASES)]

    def database_exists(self, name):
        return bool(self.query('SELECT 1 FROM pg_database WHERE datname = %s', args=(name,)))

    def execute(self, statement, *names):
        """A statement with identifiers filled in safely (CREATE/DROP/ALTER DATABASE)."""
        with self.connect() as conn:
            conn.execute(_sql.SQL(statement).format(*[_sql.Identifier(n) for n in names]))

    def row_counts(self, dbname):
        """Exact row count of every table of a database."""
        with self.connect(dbname) as conn:
            tables = [row[0] for row in conn.execute(SQL_TABLE_NAMES).fetchall()]
            return dict((t, conn.execute('SELECT count(*) FROM ' + t).fetchone()[0]) for t in tables)


def program(name, bin_dir=None):
    path = os.path.join(bin_dir, name) if bin_dir else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise BackupError('%s not found%s: install the PostgreSQL client (Debian: postgresql-client) '
                          'or set bin_dir' % (name, ' in %s' % bin_dir if bin_dir else ''))
    return path


def tool_version(path):
    return subprocess.run([path, '--version'], stdout=subprocess.PIPE, check=False,
                          universal_newlines=True).stdout.strip()


def wal_points(text):
    """start and end WAL positions from pg_basebackup --verbose output."""
    found = dict(WAL_POINT.findall(text))
    return found.get('start'), found.get('end')


class Command(object):
    """A client program whose stdout is read (or stdin written) in chunks.

    stderr goes to a temporary file so that a chatty program cannot block on
    a full pipe; it is read back for errors and for pg_basebackup's WAL points.
    Leaving the context with an exception terminates the program.
    """

    def __init__(self, argv, env, stdin=False):
        self.argv = argv
        self._stderr = tempfile.TemporaryFile()
        stdbuf = None if stdin else shutil.which('stdbuf')
        self.proc = subprocess.Popen([stdbuf] + list(STDBUF) + argv if stdbuf else argv, env=env, stderr=self._stderr,
                                     stdout=None if stdin else subprocess.PIPE,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        pipe = self.proc.stdin if stdin else self.proc.stdout
        try:
            fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, READ_SIZE)
        except OSError:
            pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default pipe works too

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return False

    def chunks(self):
        """The program's output as it comes, one read of the pipe (up to READ_SIZE) each.

        Each chunk is a view of one buffer that the next read reuses: use or
        copy it before asking for the next. A fresh 1 MiB bytes object per
        read cost more CPU in page faults than compressing the data did.
        """
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        pipe = self.proc.stdout.raw
        while True:
            size = pipe.readinto(buffer)
            if not size:
                return
            yield view[:size]

    def write(self, data):
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self.wait()
            raise BackupError('%s stopped reading its input' % os.path.basename(self.argv[0]))

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode('utf-8', 'replace')

    def wait(self):
        """Waits for the exit; a non-zero one becomes a BackupError with its stderr."""
        unread = False
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:  # input left in the buffer of a program that stopped reading
                    unread = True
        code = self.proc.wait()
        if unread and code == 0:
            raise BackupError('%s stopped reading its input' % os.path.basename(self.argv[0]))
        if code != 0:
            lines = [line for line in self.stderr().splitlines() if line.strip()]
            raise BackupError('%s failed (exit %s): %s' % (os.path.basename(self.argv[0]), code,
                                                           ' | '.join(lines[-5:]) or 'no message'))
        return self.stderr()
