# -*- coding: utf-8 -*-
# Copyright (c) aiplatform.infra contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Compression and client-side encryption of a backup stream.

Both work chunk by chunk, so a stream of any size passes through in bounded
memory. Encryption is AES-256-GCM per chunk: a header (magic, PBKDF2 salt,
nonce prefix), then frames of ``length | flags | ciphertext+tag``; the nonce is
the prefix and the frame's counter, and the last frame is flagged and
authenticated as last, so a truncated, reordered or altered stream fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import struct
import zlib

from ansible_collections.aiplatform.infra.plugins.module_utils.backup.common import BackupError, require

try:
    import zstandard
except ImportError:
    zstandard = None

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:
    AESGCM = None
    InvalidTag = ValueError

CODECS = ('zstd', 'gzip', 'none')
SUFFIX = {'zstd': '.zst', 'gzip': '.gz', 'none': ''}
DEFAULT_LEVEL = {'zstd': 3, 'gzip': 6, 'none': 0}
MAGIC = b'AIPBKE1\n'
SALT_SIZE = 16
PREFIX_SIZE = 4
KDF_ITERATIONS = 200000
FRAME = struct.Struct('>IB')
LAST = 1
CHUNK = 1 << 20
# Input fed to the last decoding stage at a time: 1 MiB of a dump that
# compressed 200:1 would inflate to 200 MiB at once; 16 KiB keeps it near 3 MiB
# (an output piece is at most this times the compression ratio).
DECODE_SLICE = 16384


class _Identity(object):
    def process(self, data):
        return data

    def finish(self):
        return b''


class _Zlib(object):
    def __init__(self, obj, final):
        self._obj = obj
        self._final = final

    def process(self, data):
        return self._obj.compress(data) if hasattr(self._obj, 'compress') else self._obj.decompress(data)

    def finish(self):
        return self._final(self._obj)


def compressor(codec, level=None):
    """A stream compressor with process(bytes) -> bytes and finish() -> bytes."""
    level = DEFAULT_LEVEL[codec] if level is None else level
    if codec == 'none':
        return _Identity()
    if codec == 'gzip':
        return _Zlib(zlib.compressobj(level, zlib.DEFLATED, 31), lambda obj: obj.flush())
    require('zstandard')
    return _Zlib(zstandard.ZstdCompressor(level=level).compressobj(), lambda obj: obj.flush())


def decompressor(codec):
    if codec == 'none':
        return _Identity()
    if codec == 'gzip':
        return _Zlib(zlib.decompressobj(31), lambda obj: obj.flush())
    require('zstandard')
    return _Zlib(zstandard.ZstdDecompressor().decompressobj(), lambda obj: b'')


def _key(passphrase, salt):
    return hashlib.pbkdf2_hmac('sha256', passphrase.encode('utf-8'), salt, KDF_ITERATIONS, 32)


def _nonce(prefix, counter):
    return prefix + struct.pack('>Q', counter)


class Encryptor(object):
    """Buffers plaintext into CHUNK-sized frames; finish() emits the last one."""

    def __init__(self, passphrase, chunk=CHUNK):
        require('cryptography')
        salt, self._prefix = os.urandom(SALT_SIZE), os.urandom(PREFIX_SIZE)
        self._aead = AESGCM(_key(passphrase, salt))
        self._header = MAGIC + salt + self._prefix
        self._chunk = chunk
        self._pending = bytearray()
        self._counter = 0

    def _frame(self, data, flags):
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter), bytes(data), bytes([flags]))
        self._counter += 1
        return FRAME.pack(len(sealed), flags) + sealed

    def process(self, data):
        out = [self._header]
        self._header = b''
        self._pending += data
        while len(self._pending) > self._chunk:
            out.append(self._frame(self._pending[:self._chunk], 0))
            del self._pending[:self._chunk]
        return b''.join(out)

    def finish(self):
        out = self._header + self._frame(self._pending, LAST)
        self._header, self._pending = b'', bytearray()
        return out


class Decryptor(object):
    """The reverse of Encryptor; fails on a wrong passphrase, tampering or truncation."""

    def __init__(self, passphrase):
        require('cryptography')
        self._passphrase = passphrase
        self._aead = None
        self._buffer = bytearray()
        self._counter = 0
        self._done = False

    def _header(self):
        size = len(MAGIC) + SALT_SIZE + PREFIX_SIZE
        if len(self._buffer) < size:
            return False
        if bytes(self._buffer[:len(MAGIC)]) != MAGIC:
            raise BackupError('the object is not encrypted by this tool (bad header): '
                              'was the backup taken without encryption_passphrase?')
        salt = bytes(self._buffer[len(MAGIC):len(MAGIC) + SALT_SIZE])
        self._prefix = bytes(self._buffer[len(MAGIC) + SALT_SIZE:size])
        self._aead = AESGCM(_key(self._passphrase, salt))
        del self._buffer[:size]
        return True

    def process(self, data):
        self._buffer += data
        if self._aead is None and not self._header():
            return b''
        out = []
        while len(self._buffer) >= FRAME.size:
            length, flags = FRAME.unpack_from(self._buffer)
            if len(self._buffer) < FRAME.size + length:
                break
            if self._done:
                raise BackupError('data after the last encrypted frame: the object was altered')
            sealed = bytes(self._buffer[FRAME.size:FRAME.size + length])
            del self._buffer[:FRAME.size + length]
            try:
                out.append(self._aead.decrypt(_nonce(self._prefix, self._counter), sealed, bytes([flags])))
            except InvalidTag:
                raise BackupError('decryption failed: wrong encryption_passphrase or an altered object')
            self._counter += 1
            self._done = bool(flags & LAST)
        return b''.join(out)

    def finish(self):
        if not self._done or self._buffer:
            raise BackupError('the encrypted object ends early: it is truncated')
        return b''


class Chain(object):
    """Stages applied in order, e.g. compress then encrypt."""

    def __init__(self, stages):
        self._stages = list(stages)

    def process(self, data):
        for stage in self._stages:
            data = stage.process(data)
        return data

    def iter_process(self, data):
        """Like process, in pieces: the last stage gets its input in DECODE_SLICE slices."""
        for stage in self._stages[:-1]:
            data = stage.process(data)
        for start in range(0, len(data), DECODE_SLICE):
            yield self._stages[-1].process(data[start:start + DECODE_SLICE])

    def finish(self):
        data = b''
        for stage in self._stages:
            data = stage.process(data) + stage.finish() if data else stage.finish()
        return data


def encoder(codec, level, passphrase):
    stages = [compressor(codec, level)]
    if passphrase:
        stages.append(Encryptor(passphrase))
    return Chain(stages)


def decoder(codec, passphrase):
    stages = [Decryptor(passphrase)] if passphrase else []
    stages.append(decompressor(codec))
    return Chain(stages)


def object_suffix(codec, encrypted):
    return SUFFIX[codec] + ('.aes' if encrypted else '')
