// The Python harness code_exec runs in the sandbox (reward/code_exec/code_exec.h), kept in the binary so that
// a deployed stride needs no source tree. It reads tests.json {"mode": "stdio"|"call"|"assert", "fn_name",
// "tests": [inputs], "max_out": bytes, "pid_ns": bool} and solution.py from its cwd, prints
// {"compiled": true} or {"syntax_error": "..."}, then per test one line {"test", "exit", "signal",
// "out", "out_truncated", "err" (stderr's tail), "result" (call: JSON text; assert: "done"), "limit"}.
#include "reward/code_exec/code_exec.h"

namespace stride {

const char* code_exec_harness_source() {
    return R"py(
import builtins
import errno
import json
import os
import signal
import sys
import traceback

# Runs solution.py against the tests in tests.json, each test in a fresh forked child, and prints one
# JSON line per test. Expected outputs never enter the sandbox: Stride compares outside.
# The harness itself runs no model code; only its children do.

LIMIT_SIGNALS = {signal.SIGXCPU: "cpu time", signal.SIGXFSZ: "file size", signal.SIGSYS: "syscall"}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def limit_of(exc):
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "file size"
    if isinstance(exc, OSError) and exc.errno == errno.EAGAIN:
        return "processes"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "processes"
    return ""


def redirect(fd, path, flags):
    new = os.open(path, flags, 0o644)
    os.dup2(new, fd)
    os.close(new)


def find_function(g, name):
    if callable(g.get(name)):
        return g[name]
    cls = g.get("Solution")  # LeetCode style: a method of class Solution
    if isinstance(cls, type) and callable(getattr(cls, name, None)):
        return getattr(cls(), name)
    raise NameError("the program defines no function " + repr(name))


def run_test(spec, code, test, result_file):
    mode = spec["mode"]
    g = {"__name__": "__main__" if mode == "stdio" else "__solution__", "__builtins__": builtins}
    try:
        exec(code, g)
        if mode == "call":
            args = test if isinstance(test, list) else [test]
            result = find_function(g, spec["fn_name"])(*args)
            try:
                text = json.dumps(result)
            except (TypeError, ValueError) as e:
                sys.stderr.write("return value is not JSON: %s\n" % e)
                return 1
            with open(result_file, "w") as f:
                f.write(text)
        elif mode == "assert":
            exec(compile(test, "<test>", "exec"), g)
            with open(result_file, "w") as f:
                f.write("done")
    except SystemExit as e:
        if mode != "stdio":
            sys.stderr.write("SystemExit: the program exited before its tests ran\n")
            return 1
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        sys.stderr.write(str(e.code) + "\n")
        return 1
    except BaseException as e:
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        lim = limit_of(e)
        if lim:
            # Appended, never truncated: the processes a fork bomb left would otherwise empty the file
            # between this write and the harness's read.
            fd = os.open("limit", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(fd, (lim + "\n").encode())
            os.close(fd)
        return 1
    return 0


def child(spec, code, test, result_file):
    status = 1
    try:
        if not spec["pid_ns"]:
            os.setpgid(0, 0)  # so that the harness can kill what the test leaves behind
        redirect(0, "stdin", os.O_RDONLY)
        redirect(1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        redirect(2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        status = run_test(spec, code, test, result_file)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    finally:
        os._exit(status if isinstance(status, int) and 0 <= status < 256 else 1)


def read(path, limit, tail=False):
    try:
        with open(path, "rb") as f:
            if tail:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - limit))
            data = f.read(limit + 1)
    except OSError:
        return "", False
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def kill_leftovers(spec, pid):
    if spec["pid_ns"] and os.getpid() == 1:
        # pid 1 of the sandbox's namespace: kill(-1) reaches every other process in it, nothing outside.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def remove_files(result_file):
    for name in ("stdin", "stdout", "stderr", result_file, "limit"):
        try:
            os.unlink(name)
        except OSError:
            pass


def run_one(spec, code, i, test):
    with open("stdin", "w") as f:
        f.write(test if spec["mode"] == "stdio" else "")
    line = {"test": i}
    # A name the program cannot guess: it would have to dig the harness's frames to forge "done".
    result_file = "result-" + os.urandom(8).hex()
    try:
        pid = os.fork()
    except OSError as e:
        line.update(exit=None, signal=None, err="could not start the test: %s" % e, limit="processes")
        return line
    if pid == 0:
        child(spec, code, test, result_file)
    _, status = os.waitpid(pid, 0)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    # What the test left running dies before its files are read, so nothing rewrites them meanwhile.
    kill_leftovers(spec, pid)
    line["exit"] = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    line["signal"] = sig
    line["out"], line["out_truncated"] = read("stdout", spec["max_out"])
    line["err"], _ = read("stderr", 1000, tail=True)
    line["result"] = read(result_file, spec["max_out"])[0] if os.path.exists(result_file) else None
    line["limit"] = LIMIT_SIGNALS.get(sig, "") or (read("limit", 100)[0].split("\n") + [""])[0]
    remove_files(result_file)
    return line


def main():
    with open("tests.json") as f:
        spec = json.load(f)
    with open("solution.py", "rb") as f:
        source = f.read()
    os.unlink("tests.json")
    try:
        code = compile(source, "solution.py", "exec")
    except BaseException as e:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
        emit({"syntax_error": "".join(traceback.format_exception_only(type(e), e)).strip()})
        return
    emit({"compiled": True})
    for i, test in enumerate(spec["tests"]):
        emit(run_one(spec, code, i, test))


main()
)py";
}

}  // namespace stride
