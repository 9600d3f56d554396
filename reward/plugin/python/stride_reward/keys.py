"""The job's CURVE keys for the worker's socket (common/curve_keys.h wrote them).

A key set is a directory (0700) of owner-only files: server.key (the pool's public key), client.key
and client.key_secret (the pair every role that connects presents). They are read here from the
directory, never taken from the command line, and refused when group or others may read them.
"""

import os
import stat

import zmq


def read_key(keys_dir, name):
    path = os.path.join(keys_dir, name)
    try:
        st = os.stat(path)
    except OSError as e:
        raise RuntimeError(f"keys: {path}: {e.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RuntimeError(f"keys: {path}: readable by group or others (chmod 600 it)")
    with open(path, "rb") as f:
        key = f.read().strip()
    if len(key) != 40:
        raise RuntimeError(f"keys: {path}: not a 40-character Z85 key")
    return key


def use_client_keys(sock, keys_dir):
    """CURVE client: present the job's client pair and accept only the job's server key."""
    if not zmq.has("curve"):
        raise RuntimeError("keys: this libzmq has no CURVE support")
    sock.curve_serverkey = read_key(keys_dir, "server.key")
    sock.curve_publickey = read_key(keys_dir, "client.key")
    sock.curve_secretkey = read_key(keys_dir, "client.key_secret")
