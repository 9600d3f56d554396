"""The worker loop: connect to a Stride reward pool, then score its batches until told to stop.

Protocol (reward/plugin/plugin_protocol.h): ZeroMQ multipart messages, first frame the kind.

  -> hello PID            <- schema DESCRIPTOR CONFIG     (hello remote: a worker the pool did not start)
  -> ready | failed WHY
  <- score RewardRequest  -> scores RewardReply (several when the request runs past flush_ms)
  <- stop

The message classes are built from DESCRIPTOR, the FileDescriptorProto of proto/stride.proto sent by
the binary we talk to, so this package needs no generated code and can never disagree with it.
"""

import asyncio
import inspect
import os
import resource
import sys
import time

import zmq
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from . import adapt, keys


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


async def _score_one(call, it):
    """(score, ok, detail) of one item for an async function: its own exception costs only it."""
    try:
        value = call(it)
        if inspect.isawaitable(value):
            value = await value
        s, d = adapt.to_score(value)
        return s, True, d
    except Exception as e:
        return 0.0, False, adapt.describe(e)


async def _score_concurrently(sock, req, call, reply_cls):
    """An `async def` function: every item of the request runs at once on the event loop (a remote
    judge or an LLM grader waits on I/O, not on us). Replies follow the synchronous protocol: the
    finished prefix goes out whenever flush_ms has passed, so a slow item makes no other late."""
    tasks = [asyncio.ensure_future(_score_one(call, it)) for it in req.items]
    flush_s = req.flush_ms / 1000.0 if req.flush_ms > 0 else None
    first = 0

    def send(end):
        done = [t.result() for t in tasks[first:end]]
        rep = reply_cls(request_id=req.request_id, first=first, scores=[d[0] for d in done],
                        ok=[d[1] for d in done], details=[d[2] for d in done])
        sock.send_multipart([b"scores", rep.SerializeToString()])

    pending = set(tasks)
    while pending:
        _, pending = await asyncio.wait(pending, timeout=flush_s)
        end = first
        while end < len(tasks) and tasks[end].done():
            end += 1
        if pending and end > first:  # progress while some still run
            send(end)
            first = end
    send(len(tasks))


def serve(target, endpoint, memory_mb=0, keys_dir="", remote=False):
    ctx = zmq.Context(1)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    if keys_dir:
        try:
            keys.use_client_keys(sock, keys_dir)  # before connect: CURVE is chosen per connection
        except RuntimeError as e:  # no channel to say it on: the pool sees us exit, stderr says why
            print(f"stride_reward: {e}", file=sys.stderr)
            return 1
    sock.connect(endpoint)
    sock.send_multipart([b"hello", b"remote" if remote else str(os.getpid()).encode()])
    frames = sock.recv_multipart()
    if len(frames) < 3 or frames[0] != b"schema":
        return 1
    request_cls, reply_cls = message_classes(frames[1])
    path, _, name = target.rpartition(":")
    try:
        if not path or not name:
            raise RuntimeError(f"'{target}' is not FILE.py:FUNCTION")
        module = adapt.load_module(path)
        fn = adapt.get_function(module, name)
        call = adapt.make_caller(fn)
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None))
        adapt.run_init(module, frames[2].decode())
        limit_memory(memory_mb)
    except Exception as e:
        sock.send_multipart([b"failed", str(e).encode("utf-8", "replace")])
        return 1
    sock.send_multipart([b"ready"])
    loop = asyncio.new_event_loop() if is_async else None
    # Until the pool says stop; a pool that dies takes us with it (PR_SET_PDEATHSIG; a remote worker
    # is told stop, or waits for its user to end it).
    while True:
        frames = sock.recv_multipart()
        if frames[0] == b"stop":
            return 0
        if frames[0] == b"score" and len(frames) > 1:
            req = request_cls.FromString(frames[1])
            if loop is not None:
                loop.run_until_complete(_score_concurrently(sock, req, call, reply_cls))
            else:
                score_request(sock, req, call, reply_cls)
