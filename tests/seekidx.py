# SPDX-License-Identifier: GPL-2.0-or-later
"""seekidx.py - read and write saved seek points (src/lib/codec/seekidx.h)
in the shell tests, which alter an index file on purpose and must keep it
well encoded (checksum and all) so that only a format's own checks can
refuse it.

    prefix, name, nfields, records = load(path)
    save(path, prefix, name, nfields, records)

prefix is whatever comes before the list in the file (bmapfs's header
line); records is a list of [fields, blob], fields a list of nfields
integers."""
import struct

MAGIC = b'BMAPSEEK'


def _fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def load(path):
    data = open(path, 'rb').read()
    at = data.index(MAGIC)
    prefix, body = data[:at], data[at:]
    if struct.unpack_from('<Q', body, len(body) - 8)[0] != \
            _fnv1a(body[:-8]):
        raise ValueError('%s: bad checksum' % path)
    version, name, nfields, count = struct.unpack_from('<I16sIQ', body, 8)
    if version != 1:
        raise ValueError('%s: version %d' % (path, version))
    pos = 12 + 16 + 4 + 8
    records = []
    for _ in range(count):
        fields = list(struct.unpack_from('<%dQ' % nfields, body, pos))
        pos += 8 * nfields
        n, = struct.unpack_from('<I', body, pos)
        pos += 4
        records.append([fields, bytes(body[pos:pos + n])])
        pos += n
    return prefix, name.rstrip(b'\0').decode(), nfields, records


def save(path, prefix, name, nfields, records):
    body = bytearray(MAGIC)
    body += struct.pack('<I16sIQ', 1, name.encode(), nfields, len(records))
    for fields, blob in records:
        body += struct.pack('<%dQ' % nfields, *fields)
        body += struct.pack('<I', len(blob)) + blob
    body += struct.pack('<Q', _fnv1a(body))
    open(path, 'wb').write(prefix + bytes(body))
