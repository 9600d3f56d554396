"""The worker loop: connect to a Stride reward pool, then score its batches until told to stop.

Protocol (reward/plugin_protocol.h): ZeroMQ multipart messages, first frame the kind.

  -> hello PID            <- schema DESCRIPTOR CONFIG
  -> ready | failed WHY
  <- score RewardRequest  -> scores RewardReply (several when the request runs past flush_ms)
  <- stop

The message classes are built from DESCRIPTOR, the FileDescriptorProto of proto/stride.proto sent by
the binary we talk to, so this package needs no generated code and can never disagree with it.
"""

import os
import resource
import time

import zmq
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import adapt


def message_classes(descriptor):
    """(RewardRequest, RewardReply) classes from a serialized FileDescriptorProto."""
    file = descriptor_pb2.FileDescriptorProto.FromString(descriptor)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)

    def cls(name):
        desc = pool.FindMessageTypeByName(f"{file.package}.{name}")
        get = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
        return get(desc) if get else message_factory.MessageFactory(pool).GetPrototype(desc)

    return cls("RewardRequest"), cls("RewardReply")


def limit_memory(memory_mb):
    # Counted from what the interpreter already maps, as the C++ worker does (plugin_worker.cpp).
    if memory_mb <= 0:
        return
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    limit = pages * os.sysconf("SC_PAGE_SIZE") + (memory_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def score_request(sock, req, call, reply_cls):
    """Scores every item, replying with what is done whenever flush_ms has passed (the pool's
    deadline for a batch counts from our last reply) and once at the end."""
    scores, oks, details = [], [], []
    first = 0
    flush_s = req.flush_ms / 1000.0
    last = time.monotonic()
    to_score = adapt.to_score
    items = req.items
    n = len(items)
    for i, it in enumerate(items):
        try:
            s, d = to_score(call(it))
            ok = True
        except Exception as e:  # the user's bug costs this sample, not the worker
            s, d, ok = 0.0, adapt.describe(e), False
        scores.append(s)
        oks.append(ok)
        details.append(d)
        if flush_s and i + 1 < n and time.monotonic() - last >= flush_s:
            rep = reply_cls(request_id=req.request_id, first=first, scores=scores, ok=oks, details=details)
            sock.send_multipart([b"scores", rep.SerializeToString()])
            first = i + 1
            scores, oks, details = [], [], []
            last = time.monotonic()
    rep = reply_cls(request_id=req.request_id, first=first, scores=scores, ok=oks, details=details)
    sock.send_multipart([b"scores", rep.SerializeToString()])


def serve(target, endpoint, memory_mb=0):
    ctx = zmq.Context(1)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(endpoint)
    sock.send_multipart([b"hello", str(os.getpid()).encode()])
    frames = sock.recv_multipart()
    if len(frames) < 3 or frames[0] != b"schema":
        return 1
    request_cls, reply_cls = message_classes(frames[1])
    path, _, name = target.rpartition(":")
    try:
        if not path or not name:
            raise RuntimeError(f"'{target}' is not FILE.py:FUNCTION")
        module = adapt.load_module(path)
        call = adapt.make_caller(adapt.get_function(module, name))
        adapt.run_init(module, frames[2].decode())
        limit_memory(memory_mb)
    except Exception as e:
        sock.send_multipart([b"failed", str(e).encode("utf-8", "replace")])
        return 1
    sock.send_multipart([b"ready"])
    # Until the pool says stop; a pool that dies takes us with it (PR_SET_PDEATHSIG).
    while True:
        frames = sock.recv_multipart()
        if frames[0] == b"stop":
            return 0
        if frames[0] == b"score" and len(frames) > 1:
            score_request(sock, request_cls.FromString(frames[1]), call, reply_cls)
