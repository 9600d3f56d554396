"""python3 -m stride_reward serve FILE.py:FUNC --connect ENDPOINT [--memory-mb MB] [--keys-dir DIR] [--remote]"""

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
    s.add_argument("--keys-dir", default="",
                   help="the job's CURVE key set (network.keys_dir or {run}/keys), when the pool serves CURVE")
    s.add_argument("--remote", action="store_true",
                   help="join a pool that did not start us (a reward server on another host: reward.bind)")
    args = parser.parse_args(argv)
    return serve(args.target, args.connect, args.memory_mb, args.keys_dir, args.remote)


if __name__ == "__main__":
    sys.exit(main())
