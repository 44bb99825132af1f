# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.aiplatform.infra.plugins.module_utils.backup import codec, common
from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError

DATA = (b'row, \xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\n' * 70000) + os.urandom(300000)


def _run(stage, data, size):
    out = [stage.process(data[i:i + size]) for i in range(0, len(data), size)]
    return b''.join(out) + stage.finish()


@pytest.mark.parametrize('name', codec.CODECS)
@pytest.mark.parametrize('passphrase', [None, 'correct horse'])
@pytest.mark.parametrize('size', [1, 65536, 3 << 20])
def test_round_trip(name, passphrase, size):
    data = DATA if size > 1 else DATA[:5000]
    stored = _run(codec.encoder(name, None, passphrase), data, size)
    assert _run(codec.decoder(name, passphrase), stored, size) == data
    if passphrase:
        assert b'row, ' not in stored


@pytest.mark.parametrize('name, smaller', [('zstd', True), ('gzip', True), ('none', False)])
def test_compression_shrinks_repetitive_data(name, smaller):
    text = b'pgbench filler ' * 100000
    assert (len(_run(codec.compressor(name), text, 65536)) < len(text) / 10) is smaller


def test_empty_stream_round_trips_encrypted():
    stored = _run(codec.encoder('zstd', None, 'p'), b'', 10)
    assert _run(codec.decoder('zstd', 'p'), stored, 10) == b''


def _encrypted():
    return _run(codec.Encryptor('secret', chunk=1000), os.urandom(5000), 700)


@pytest.mark.parametrize('damage, message', [
    (lambda s: s[:100] + bytes([s[100] ^ 1]) + s[101:], 'altered'),
    (lambda s: s[:-50], 'truncated'),
    (lambda s: s[:len(s) - (1000 + 16 + 5)], 'truncated'),
    (lambda s: s + s[-(1000 + 16 + 5):], 'after the last'),
    (lambda s: b'X' * 28 + s[28:], 'bad header'),
])
def test_damage_is_detected(damage, message):
    with pytest.raises(BackupError, match=message):
        _run(codec.Decryptor('secret'), damage(_encrypted()), 4096)


def test_wrong_passphrase_is_named():
    with pytest.raises(BackupError, match='wrong encryption_passphrase'):
        _run(codec.Decryptor('guess'), _encrypted(), 4096)


def test_each_object_gets_its_own_salt():
    assert codec.Encryptor('p').process(b'x')[:24] != codec.Encryptor('p').process(b'x')[:24]


@pytest.mark.parametrize('name, encrypted, suffix', [
    ('zstd', True, '.zst.aes'), ('gzip', False, '.gz'), ('none', False, ''), ('none', True, '.aes')])
def test_object_suffix(name, encrypted, suffix):
    assert codec.object_suffix(name, encrypted) == suffix


def test_missing_library_names_the_package(monkeypatch):
    monkeypatch.setitem(common.LIBRARIES, 'zstandard', 'traceback')
    with pytest.raises(BackupError, match='python3-zstandard'):
        codec.compressor('zstd')


@pytest.mark.parametrize('passphrase', [None, 'p'])
def test_decoding_in_pieces_bounds_the_output(passphrase):
    # pgbench-like rows compress about 150:1, so one 16 KiB slice inflates to a few MiB.
    text = b''.join(b'%d\t1\t0\t' % i + b' ' * 84 + b'\n' for i in range(700000))
    stored = _run(codec.encoder('zstd', None, passphrase), text, 1 << 20)
    decoder = codec.decoder('zstd', passphrase)
    sizes = [len(piece) for start in range(0, len(stored), 1 << 20)
             for piece in decoder.iter_process(stored[start:start + (1 << 20)])]
    assert sum(sizes) + len(decoder.finish()) == len(text)
    assert len(stored) < len(text) / 50 and max(sizes) <= 8 << 20
