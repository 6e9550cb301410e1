#!/usr/bin/env python3
"""Quick differential run for development: each corpus file against redis-server and cinnabar-server,
printing every reply that differs. The CI test is the C# DifferentialTests; this is the fast inner loop.

Usage: diff_corpus.py [--cinnabar PATH] [FILES...]
"""
import argparse, glob, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_corpus as cc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
DEFAULT_BIN = os.path.join(ROOT, 'src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server')

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('files', nargs='*')
    ap.add_argument('--cinnabar', default=DEFAULT_BIN)
    ap.add_argument('--redis-server', default='redis-server')
    ap.add_argument('--max', type=int, default=20, help='differences shown per file')
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(cc.CORPUS_DIR, '*.redis')))
    redis, cin = cc.Server(a.redis_server), cc.Server(a.cinnabar)
    total = diffs = 0
    try:
        for path in files:
            steps = cc.parse_file(path)
            ra = cc.run_file(steps, redis.port, path)
            rb = cc.run_file(steps, cin.port, path)
            shown = 0
            for (st, x), (_, y) in zip(ra.replies, rb.replies):
                if st.compare:
                    total += 1
                if st.compare and x != y:
                    diffs += 1
                    if shown < a.max:
                        shown += 1
                        print('%s:%d  %s\n   redis:    %s\n   cinnabar: %s' % (os.path.basename(path), st.lineno, st.text,
                              cc.fmt_reply(x)[:300], cc.fmt_reply(y)[:300]))
    finally:
        redis.stop(); cin.stop()
    print('%d commands, %d differences' % (total, diffs))
    return 1 if diffs else 0

if __name__ == '__main__':
    sys.exit(main())
