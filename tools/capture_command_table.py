#!/usr/bin/env python3
"""Record redis-server 7.0's COMMAND and COMMAND DOCS replies (RESP3) as the command table's data.

Usage: capture_command_table.py PORT OUTDIR  (against a running redis-server 7.0 on 127.0.0.1:PORT)
The server serves COMMAND INFO / DOCS from these records so its table matches Redis's byte for byte.
"""
import socket, sys

def read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    out = line
    if t in b'$=!':
        n = int(rest)
        if n >= 0:
            out += f.read(n + 2)
    elif t in b'*%~>|':
        n = int(rest)
        if t in b'%|':
            n *= 2
        for _ in range(max(n, 0)):
            out += read_reply(f)
    return out

def command(f, s, *args):
    s.sendall(b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args))
    return read_reply(f)

port, outdir = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(('127.0.0.1', port))
f = s.makefile('rb')
command(f, s, b'HELLO', b'3')
open(f'{outdir}/command-info.resp', 'wb').write(command(f, s, b'COMMAND'))
open(f'{outdir}/command-docs.resp', 'wb').write(command(f, s, b'COMMAND', b'DOCS'))
