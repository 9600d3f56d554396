"""python3 -m stride_reward serve FILE.py:FUNC --connect ENDPOINT [--memory-mb MB]"""

import argparse
import sys

from .worker import serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m stride_reward")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve FILE.py:FUNC to a Stride reward pool")
    s.add_argument("target", help="path/to/file.py:function")
    s.add_argument("--connect", required=True, help="the pool's ZeroMQ endpoint (ipc://... or tcp://...)")
    s.add_argument("--memory-mb", type=int, default=0, help="address space headroom; 0: unlimited")
    args = parser.parse_args(argv)
    return serve(args.target, args.connect, args.memory_mb)


if __name__ == "__main__":
    sys.exit(main())
