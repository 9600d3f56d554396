// The sandbox on its own (reward/sandbox/sandbox.h): real namespaces, rlimits and seccomp, real
// /usr/bin/python3. Tests that need namespaces skip, naming why, on machines that do not allow them.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "reward/sandbox/sandbox.h"

using namespace stride;

namespace {

const char* kPython = "/usr/bin/python3";

SandboxJob python(const std::string& code) {
    SandboxJob job;
    job.argv = {kPython, "-c", code};
    job.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
    return job;
}

SandboxLimits quick() {
    SandboxLimits lim;
    lim.wall_s = 5.0;
    lim.memory_mb = 256;
    return lim;
}

SandboxResult run(const std::string& code, SandboxLimits lim = quick(),
                  SandboxIsolation iso = SandboxIsolation::namespaces) {
    return run_sandboxed(python(code), lim, iso);
}

#define SKIP_WITHOUT_NAMESPACES() \
    if (std::string why = sandbox_unavailable_reason(); !why.empty()) GTEST_SKIP() << "no sandbox: " << why

}  // namespace

TEST(Sandbox, RunsInAFreshWorkDirAsAnUnprivilegedUser) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxJob job = python(
        "import os, sys\n"
        "print(os.getuid(), os.getpid(), os.getcwd(), open('data.txt').read(), sys.stdin.read())\n"
        "open('out.txt', 'w').write('x')\n");
    job.files = {{"data.txt", "from the host"}};
    job.stdin_data = "from stdin";
    SandboxResult r = run_sandboxed(job, quick(), SandboxIsolation::namespaces);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    // uid 1000 in its own user namespace, pid 1 of its own pid namespace.
    EXPECT_EQ(r.out, "1000 1 /work from the host from stdin\n");
    EXPECT_FALSE(r.timed_out);
    EXPECT_FALSE(std::filesystem::exists(r.workdir)) << r.workdir << " left behind";
}

TEST(Sandbox, HostFilesAreOutOfReach) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxResult r =
        run("import os\n"
            "print(sorted(os.listdir('/')), os.path.exists('/etc/passwd'), os.path.exists('/proc/1'))\n"
            "try:\n"
            "    open('/usr/evil', 'w')\n"
            "except OSError as e:\n"
            "    print(e.strerror)\n");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_NE(r.out.find("'tmp', 'usr', 'work'"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("root"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("False False\nRead-only file system"), std::string::npos) << r.out;
}

TEST(Sandbox, NoNetworkEvenWithoutTheSyscallFilter) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxLimits lim = quick();
    lim.syscall_filter = false;  // the network namespace alone: only a loopback, and it is down
    SandboxResult r =
        run("import socket\n"
            "for host in ('127.0.0.1', '1.1.1.1'):\n"
            "    try:\n"
            "        socket.create_connection((host, 80), timeout=2)\n"
            "        print('connected')\n"
            "    except OSError as e:\n"
            "        print(e.strerror)\n",
            lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "Network is unreachable\nNetwork is unreachable\n") << r.err;
}

TEST(Sandbox, AnIpSocketIsKilledByTheFilter) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxResult r = run("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)\nprint('alive')");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.signal, SIGSYS);
    EXPECT_EQ(r.limit, "syscall");
    EXPECT_EQ(r.out, "");
    // Local sockets stay allowed (multiprocessing and friends use them).
    SandboxResult local = run("import socket\na, b = socket.socketpair()\na.send(b'ok')\nprint(b.recv(2))");
    EXPECT_EQ(local.out, "b'ok'\n") << local.err;
}

TEST(Sandbox, KilledAtTheWallClockLimit) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxLimits lim = quick();
    lim.wall_s = 0.5;
    SandboxResult r = run("while True: pass", lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_EQ(r.limit, "wall clock");
    EXPECT_LT(r.seconds, 3.0);
}

TEST(Sandbox, DescendantsDieWithTheProgram) {
    SKIP_WITHOUT_NAMESPACES();
    // A child that would hold stdout open for a minute: the pid namespace ends it with its parent.
    SandboxResult r = run("import os, time\nif os.fork() == 0:\n    time.sleep(60)\nprint('parent done')");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "parent done\n");
    EXPECT_LT(r.seconds, 3.0);
}

TEST(Sandbox, ProcessesAreCapped) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxLimits lim = quick();
    lim.processes = 8;
    SandboxResult r =
        run("import os, time\n"
            "n = 0\n"
            "try:\n"
            "    while True:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(30)\n"
            "            os._exit(0)\n"
            "        n += 1\n"
            "except OSError as e:\n"
            "    print(n, e.strerror)\n",
            lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "7 Resource temporarily unavailable\n") << r.err;
    EXPECT_LT(r.seconds, 3.0);
}

TEST(Sandbox, OutputIsCapped) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxLimits lim = quick();
    lim.output_bytes = 1000;
    SandboxResult r = run("import sys\nsys.stdout.write('x' * 5_000_000)", lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, std::string(1000, 'x'));
    EXPECT_TRUE(r.out_truncated);
}

TEST(Sandbox, SetupFailureNamesTheStep) {
    SKIP_WITHOUT_NAMESPACES();
    SandboxJob job = python("");
    job.argv[0] = "/usr/bin/no-such-python";
    SandboxResult r = run_sandboxed(job, quick(), SandboxIsolation::namespaces);
    EXPECT_FALSE(r.started);
    EXPECT_NE(r.error.find("execve: No such file or directory"), std::string::npos) << r.error;
    EXPECT_FALSE(std::filesystem::exists(r.workdir));
}

TEST(Sandbox, IsolationNoneKeepsLimitsAndFilter) {
    // Without a network namespace even a local socket could reach the host's services: refused too.
    SandboxJob job = python(
        "import os, socket\n"
        "print(os.getuid() != 0, open('data.txt').read(), flush=True)\n"
        "socket.socket(socket.AF_UNIX)\n");
    job.files = {{"data.txt", "here"}};
    SandboxResult r = run_sandboxed(job, quick(), SandboxIsolation::none);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "True here\n") << r.err;  // never root, even when the test runs as root
    EXPECT_EQ(r.limit, "syscall");
    EXPECT_FALSE(std::filesystem::exists(r.workdir));

    SandboxLimits lim = quick();
    lim.wall_s = 0.5;
    SandboxResult loop = run("while True: pass", lim, SandboxIsolation::none);
    EXPECT_TRUE(loop.timed_out);
}

TEST(Sandbox, ProbeAgreesWithARealRun) {
    std::string why = sandbox_unavailable_reason();
    SandboxResult r = run("print('ok')");
    EXPECT_EQ(why.empty(), r.started && r.out == "ok\n") << why << " / " << r.error;
}
