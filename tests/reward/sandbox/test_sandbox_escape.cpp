// The escape suite: hostile Python programs run through the real sandbox (reward/sandbox/sandbox.h:
// namespaces, rlimits, the seccomp allow-list), each asserting that the attack failed or was killed AND
// that it had no effect outside; then ordinary programs, which must give the same output with the
// filter as without it. Tests that need namespaces skip, naming why, where the machine has none.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/ptrace.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "reward/sandbox/sandbox.h"
#include "reward/sandbox/sandbox_seccomp.h"

using namespace stride;
namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

SandboxLimits quick() {
    SandboxLimits lim;
    lim.wall_s = 10.0;  // far above what each case needs: a loaded machine must not make it flaky
    lim.memory_mb = 256;
    return lim;
}

SandboxResult run(const std::string& code, SandboxLimits lim = quick(),
                  SandboxIsolation iso = SandboxIsolation::namespaces) {
    SandboxJob job;
    job.argv = {kPython, "-c", code};
    job.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
    return run_sandboxed(job, lim, iso);
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Calls each system call in a forked child of the sandboxed program and prints one line per call: how
// the child ended ("<name> SIGSYS") or what the call returned ("<name> returned -1 errno 38").
std::string attempts_program(const std::string& calls) {
    return "import ctypes, os, signal\n"
           "libc = ctypes.CDLL(None, use_errno=True)\n"
           "libc.syscall.restype = ctypes.c_long\n"
           "def attempt(name, nr, *args):\n"
           "    pid = os.fork()\n"
           "    if pid == 0:\n"
           "        a = [ctypes.c_long(x) if isinstance(x, int) else x for x in args]\n"
           "        r = libc.syscall(ctypes.c_long(nr), *a)\n"
           "        os.write(1, ('%s returned %d errno %d\\n' % (name, r, ctypes.get_errno())).encode())\n"
           "        os._exit(0)\n"
           "    _, status = os.waitpid(pid, 0)\n"
           "    if os.WIFSIGNALED(status):\n"
           "        print(name, signal.Signals(os.WTERMSIG(status)).name, flush=True)\n" +
           calls + "print('done')\n";
}

std::string attempt(const std::string& name, long nr, const std::string& args = "") {
    return "attempt('" + name + "', " + std::to_string(nr) + (args.empty() ? "" : ", " + args) + ")\n";
}

bool has_line(const std::string& out, const std::string& line) {
    return ("\n" + out).find("\n" + line + "\n") != std::string::npos;
}

// The uid the sandbox runs as outside its namespace (or at all, isolation none).
uid_t sandbox_outside_uid() {
    return geteuid() == 0 ? 65534 : geteuid();
}

// A process of the sandbox's outside uid, but not in the sandbox: what kill(-1) must not reach.
pid_t start_victim() {
    uid_t uid = sandbox_outside_uid();
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)) _exit(2);
        execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
        _exit(3);
    }
    return pid;
}

// True while it has not exited; ends and reaps it either way.
bool victim_survived(pid_t pid) {
    int status = 0;
    bool alive = waitpid(pid, &status, WNOHANG) == 0;
    if (alive) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    return alive;
}

// Processes whose command line holds `marker`, counted while a sandbox runs (they come and go meanwhile).
int count_processes_with(const std::string& marker) {
    int n = 0;
    DIR* proc = opendir("/proc");
    if (!proc) return -1;
    while (dirent* e = readdir(proc)) {
        if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
        std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        n += cmd.find(marker) != std::string::npos;
    }
    closedir(proc);
    return n;
}

class SandboxEscape : public ::testing::Test {
   protected:
    void SetUp() override {
        if (std::string why = sandbox_unavailable_reason(); !why.empty())
            GTEST_SKIP() << "no sandbox: " << why;
        dir_ = fs::temp_directory_path() / ("stride-escape-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        planted_ = dir_ / "planted.txt";
        std::ofstream(planted_) << secret_;
        fs::permissions(planted_, fs::perms::owner_read | fs::perms::owner_write);
    }
    void TearDown() override {
        if (dir_.empty()) return;
        // The attack had no effect: the planted file as it was, nothing added next to it.
        EXPECT_EQ(read_file(planted_), secret_);
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        EXPECT_EQ(names, expected_entries_);
        fs::remove_all(dir_);
    }

    fs::path dir_, planted_;
    const std::string secret_ = "planted-secret-" + std::to_string(getpid());
    std::vector<std::string> expected_entries_ = {"planted.txt"};
};

}  // namespace

TEST_F(SandboxEscape, FilesOutsideCannotBeReadOrWritten) {
    const std::string p = planted_.string();
    SandboxResult r =
        run("import os\n"
            "def tryit(what, f):\n"
            "    try:\n"
            "        print(what, 'ok', repr(f()))\n"
            "    except OSError as e:\n"
            "        print(what, 'refused', e.errno)\n"
            "tryit('read planted', lambda: open('" +
            p +
            "').read())\n"
            "tryit('list dir', lambda: os.listdir('" +
            dir_.string() +
            "'))\n"
            "tryit('read shadow', lambda: open('/etc/shadow').read())\n"
            "tryit('read passwd', lambda: open('/etc/passwd').read())\n"
            "tryit('read proc', lambda: open('/proc/1/environ').read())\n"
            "tryit('write planted', lambda: open('" +
            p +
            "', 'w').write('owned'))\n"
            "tryit('write usr', lambda: open('/usr/evil', 'w').write('owned'))\n"
            "tryit('symlink', lambda: (os.symlink('" +
            p +
            "', 'l'), open('l', 'w').write('owned')))\n"
            "tryit('hardlink', lambda: os.link('" +
            p +
            "', 'h'))\n"
            "tryit('chdir up', lambda: (os.chdir('/../../..'), os.listdir('.')))\n");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find(secret_), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("root:"), std::string::npos) << r.out;
    for (const char* what : {"read planted", "list dir", "read shadow", "read passwd", "read proc",
                             "write planted", "write usr", "symlink", "hardlink"})
        EXPECT_NE(r.out.find(std::string(what) + " refused"), std::string::npos) << what << "\n" << r.out;
    // The root it sees is its own: a tmpfs with the system folders and its work dir.
    EXPECT_NE(r.out.find("chdir up ok (None, ["), std::string::npos) << r.out;
}

TEST_F(SandboxEscape, SocketsOfEveryFamilyButLocalAreKilled) {
    std::string calls;
    for (int family = 0; family < AF_MAX; ++family) {
        if (family == AF_UNIX) continue;
        calls += attempt("socket " + std::to_string(family), SYS_socket, std::to_string(family) + ", 2, 0");
        calls += attempt("socket " + std::to_string(family) + " raw", SYS_socket,
                         std::to_string(family) + ", 3, 0");
    }
    calls += attempt("socketpair inet", SYS_socketpair, "2, 1, 0, ctypes.create_string_buffer(8)");
    SandboxResult r = run(attempts_program(calls));
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(has_line(r.out, "done")) << r.out;
    for (int family = 0; family < AF_MAX; ++family) {
        if (family == AF_UNIX) continue;
        std::string name = "socket " + std::to_string(family);
        EXPECT_TRUE(has_line(r.out, name + " SIGSYS")) << name << "\n" << r.out;
        EXPECT_TRUE(has_line(r.out, name + " raw SIGSYS")) << name << "\n" << r.out;
    }
    EXPECT_TRUE(has_line(r.out, "socketpair inet SIGSYS")) << r.out;
}

TEST_F(SandboxEscape, LocalSocketsReachNothingOutside) {
    // A listener at a path outside and one on an abstract name: both exist on the host, neither is
    // reachable from the sandbox (its own mount and network namespaces).
    auto listener = [](const std::string& path) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
        EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
        EXPECT_EQ(listen(fd, 4), 0);
        return fd;
    };
    const std::string path = (dir_ / "sock").string();
    const std::string abstract = std::string(1, '\0') + "stride-escape-" + std::to_string(getpid());
    int by_path = listener(path), by_name = listener(abstract);
    expected_entries_ = {"planted.txt", "sock"};
    SandboxResult r =
        run("import socket\n"
            "for addr in ('" +
            path + "', '\\0" + abstract.substr(1) +
            "'):\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(addr)\n"
            "        print('connected')\n"
            "    except OSError as e:\n"
            "        print('refused', e.errno)\n");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "refused 2\nrefused 111\n") << r.err;  // ENOENT, ECONNREFUSED
    for (int fd : {by_path, by_name}) {
        EXPECT_EQ(accept(fd, nullptr, nullptr), -1);
        EXPECT_EQ(errno, EAGAIN) << "a connection reached the host";
        close(fd);
    }
}

TEST_F(SandboxEscape, KernelAttackSurfaceIsKilled) {
    std::string calls;
    calls += attempt("ptrace", SYS_ptrace, std::to_string(PTRACE_ATTACH) + ", 1, 0, 0");
    calls += attempt("process_vm_readv", SYS_process_vm_readv, "1, 0, 0, 0, 0, 0");
    calls += attempt("mount", SYS_mount, "b'none', b'/work', b'tmpfs', 0, 0");
    calls += attempt("umount", SYS_umount2, "b'/usr', 2");
    calls += attempt("unshare", SYS_unshare, std::to_string(CLONE_NEWUSER | CLONE_NEWNS));
    calls += attempt("setns", SYS_setns, "0, 0");
    calls += attempt("clone newuser", SYS_clone, std::to_string(CLONE_NEWUSER | SIGCHLD) + ", 0, 0, 0, 0");
    calls += attempt("bpf", SYS_bpf, "0, 0, 0");
    calls += attempt("perf_event_open", SYS_perf_event_open, "0, 0, -1, -1, 0");
    calls += attempt("keyctl", SYS_keyctl, "0, 0, 0, 0, 0");
    calls += attempt("userfaultfd", SYS_userfaultfd, "0");
    calls += attempt("init_module", SYS_init_module, "0, 0, b''");
    calls += attempt("kexec_load", SYS_kexec_load, "0, 0, 0, 0");
    calls += attempt("pivot_root", SYS_pivot_root, "b'.', b'.'");
    calls += attempt("chroot", SYS_chroot, "b'/tmp'");
    calls += attempt("personality", SYS_personality, std::to_string(ADDR_NO_RANDOMIZE));
    calls += attempt("prctl set_mm", SYS_prctl, std::to_string(PR_SET_MM) + ", 0, 0, 0, 0");
    calls += attempt("ioctl tiocsti", SYS_ioctl, "0, " + std::to_string(TIOCSTI) + ", b'x'");
    calls += attempt("setuid", SYS_setuid, "0");
    calls += attempt("memfd_secret", SYS_memfd_secret, "0");
#ifdef __x86_64__
    calls += attempt("x32 getpid", 0x40000000 | SYS_getpid);  // another ABI: the architecture check
#endif
    // Refused gracefully: ENOSYS, which libraries fall back from.
    calls += attempt("io_uring_setup", SYS_io_uring_setup, "8, ctypes.create_string_buffer(120)");
    calls += attempt("clone3", SYS_clone3, "ctypes.create_string_buffer(88), 88");
    // A call newer than the tables (fchmodat2, Linux 6.6): as on an older kernel.
    calls += attempt("fchmodat2", 452, "-100, b'.', 0o755, 0");
    // Files in memory that neither the tmpfs size nor RLIMIT_AS would bound.
    calls += attempt("memfd_create", SYS_memfd_create, "b'x', 0");
    // Allowed: the controls that show the harness works.
    calls += attempt("getpid", SYS_getpid);
    calls += attempt("personality query", SYS_personality, "0xffffffff");
    SandboxResult r = run(attempts_program(calls));
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    for (const char* name : {"ptrace",
                             "process_vm_readv",
                             "mount",
                             "umount",
                             "unshare",
                             "setns",
                             "clone newuser",
                             "bpf",
                             "perf_event_open",
                             "keyctl",
                             "userfaultfd",
                             "init_module",
                             "kexec_load",
                             "pivot_root",
                             "chroot",
                             "personality",
                             "prctl set_mm",
                             "ioctl tiocsti",
                             "setuid",
                             "memfd_secret"
#ifdef __x86_64__
                             ,
                             "x32 getpid"
#endif
         })
        EXPECT_TRUE(has_line(r.out, std::string(name) + " SIGSYS")) << name << "\n" << r.out;
    EXPECT_TRUE(has_line(r.out, "io_uring_setup returned -1 errno 38")) << r.out;
    EXPECT_TRUE(has_line(r.out, "clone3 returned -1 errno 38")) << r.out;
    EXPECT_TRUE(has_line(r.out, "memfd_create returned -1 errno 38")) << r.out;
    EXPECT_TRUE(has_line(r.out, "fchmodat2 returned -1 errno 38")) << r.out;
    EXPECT_NE(r.out.find("getpid returned "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("personality query returned 0 errno"), std::string::npos) << r.out;
    EXPECT_TRUE(has_line(r.out, "done")) << r.out;
}

#ifdef __x86_64__
// The i386 ABI (int 0x80) has other numbers: a filter that checked numbers only could be walked
// around. libseccomp's architecture check kills it.
TEST_F(SandboxEscape, CallsOfTheI386AbiAreKilled) {
    const std::string program =
        "import ctypes, mmap, os\n"
        // push rbx; mov eax, 20 (getpid on i386); int 0x80; pop rbx; ret
        "code = b'\\x53\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\x5b\\xc3'\n"
        "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "m.write(code)\n"
        "f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
        "print(f() == os.getpid())\n";
    SandboxLimits lim = quick();
    lim.syscall_filter = false;
    SandboxResult unfiltered = run(program, lim);
    ASSERT_TRUE(unfiltered.started) << unfiltered.error;
    if (unfiltered.out != "True\n") GTEST_SKIP() << "this kernel runs no i386 calls: " << unfiltered.err;
    SandboxResult r = run(program);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.signal, SIGSYS);
    EXPECT_EQ(r.limit, "syscall");
    EXPECT_EQ(r.out, "");
}
#endif

TEST_F(SandboxEscape, AForbiddenCallEndsTheProgramAsAViolation) {
    SandboxResult r = run("import ctypes\nctypes.CDLL(None).syscall(" + std::to_string(SYS_ptrace) +
                          ", 16, 1, 0, 0)\nprint('alive')\n");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.signal, SIGSYS);
    EXPECT_EQ(r.limit, "syscall");
    EXPECT_EQ(r.out, "");
}

TEST_F(SandboxEscape, ForkBombIsContained) {
    const std::string marker = "fork-bomb-" + std::to_string(getpid());
    SandboxLimits lim = quick();
    lim.wall_s = 2.0;
    lim.processes = 16;
    std::atomic<bool> running{true};
    std::atomic<int> most{0};
    std::thread watcher([&] {
        while (running) {
            most = std::max(most.load(), count_processes_with(marker));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    SandboxResult r =
        run("# " + marker +
                "\nimport os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            lim);
    running = false;
    watcher.join();
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_TRUE(r.timed_out);
    EXPECT_LT(r.seconds, lim.wall_s + 5.0);
    EXPECT_GT(most.load(), 1) << "the watcher never saw the bomb";
    EXPECT_LE(most.load(), lim.processes);
    EXPECT_EQ(count_processes_with(marker), 0) << "the bomb outlived its sandbox";
}

TEST_F(SandboxEscape, KillEveryoneReachesOnlyTheSandbox) {
    // A process of the sandbox's own outside uid: without the pid namespace, kill(-1) would end it (and,
    // when Stride is not root, Stride itself).
    pid_t victim = start_victim();
    ASSERT_GT(victim, 0);
    SandboxResult r =
        run("import os, signal, time\n"
            "if os.fork() == 0:\n    time.sleep(60)\n"
            "os.kill(-1, signal.SIGKILL)\n"
            "print('after', os.waitpid(-1, 0)[1])\n");
    EXPECT_TRUE(victim_survived(victim));
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.out, "after 9\n") << r.err;  // its own child was killed
}

TEST_F(SandboxEscape, KillEveryoneIsRefusedWithoutNamespaces) {
    pid_t victim = start_victim();
    ASSERT_GT(victim, 0);
    SandboxResult r = run("import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('after')\n", quick(),
                          SandboxIsolation::none);
    EXPECT_TRUE(victim_survived(victim));
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.limit, "syscall");
    EXPECT_EQ(r.out, "");
    // Signalling its own process group stays allowed (the code_exec harness does).
    SandboxResult own =
        run("import os, signal\nsignal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
            "os.killpg(0, signal.SIGUSR1)\nos.kill(os.getpid(), 0)\nprint('ok')\n",
            quick(), SandboxIsolation::none);
    EXPECT_EQ(own.out, "ok\n") << own.err;
}

TEST_F(SandboxEscape, HugeAllocationsFail) {
    SandboxResult r =
        run("import mmap\n"
            "try:\n    bytearray(100 << 30)\nexcept MemoryError:\n    print('bytearray MemoryError')\n"
            "try:\n    mmap.mmap(-1, 100 << 30)\nexcept OSError as e:\n    print('mmap', e.errno)\n"
            "hoard = []\n"
            "try:\n    while True:\n        hoard.append(bytearray(10 << 20))\n"
            "except MemoryError:\n    print('hoard', len(hoard) * 10, 'MiB')\n");
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("bytearray MemoryError\nmmap 12\nhoard "), std::string::npos) << r.out;
    int mib = std::atoi(r.out.substr(r.out.rfind("hoard ") + 6).c_str());
    EXPECT_LE(mib, 256) << r.out;  // RLIMIT_AS, not the machine's memory
}

TEST_F(SandboxEscape, OutputFloodIsCappedAndStopped) {
    SandboxLimits lim = quick();
    lim.wall_s = 1.5;
    lim.output_bytes = 1 << 20;
    SandboxResult r =
        run("import sys\nb = b'x' * (1 << 20)\n"
            "while True:\n    sys.stdout.buffer.write(b)\n    sys.stderr.buffer.write(b)\n",
            lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_TRUE(r.timed_out);
    EXPECT_LT(r.seconds, lim.wall_s + 5.0);
    EXPECT_EQ(r.out.size(), lim.output_bytes);
    EXPECT_EQ(r.err.size(), lim.output_bytes);
    EXPECT_TRUE(r.out_truncated && r.err_truncated);
}

TEST_F(SandboxEscape, EndlessLoopMeetsTheCpuLimit) {
    SandboxLimits lim = quick();
    lim.cpu_s = 1.0;
    lim.wall_s = 60.0;  // 2 s of CPU can take many more on a loaded machine
    SandboxResult r = run("while True:\n    pass\n", lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_FALSE(r.timed_out);
    // pid 1 of its namespace ignores SIGXCPU: the hard limit, a second later, kills it.
    EXPECT_TRUE(r.signal == SIGXCPU || r.signal == SIGKILL) << r.signal;
    EXPECT_EQ(r.limit, "cpu time");
}

TEST_F(SandboxEscape, SleepingForeverMeetsTheWallClock) {
    SandboxLimits lim = quick();
    lim.wall_s = 1.0;
    SandboxResult r = run("import time\ntime.sleep(10**6)\n", lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_EQ(r.limit, "wall clock");
    EXPECT_LT(r.seconds, 6.0);
}

TEST_F(SandboxEscape, HugeFilesStopAtTheFileAndDiskLimits) {
    SandboxLimits lim = quick();
    lim.file_mb = 4;
    lim.disk_mb = 10;
    SandboxResult r =
        run("import os\nchunk = b'x' * (1 << 20)\n"
            "def fill(path):\n"
            "    try:\n"
            "        with open(path, 'wb') as f:\n"
            "            while True:\n                f.write(chunk)\n                f.flush()\n"
            "    except OSError as e:\n"
            "        return e.errno\n"
            "print('one file', fill('big'), os.path.getsize('big') >> 20)\n"
            "errs = [fill('/tmp/f%d' % i) for i in range(8)]\n"
            "total = sum(os.path.getsize('/tmp/' + n) for n in os.listdir('/tmp')) + os.path.getsize('big')\n"
            "print('disk full' if 28 in errs else 'disk not full', total >> 20)\n",
            lim);
    ASSERT_TRUE(r.started) << r.error;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("one file 27 4\n"), std::string::npos) << r.out;  // EFBIG at RLIMIT_FSIZE
    EXPECT_NE(r.out.find("disk full"), std::string::npos) << r.out;        // ENOSPC at the tmpfs size
    int total = std::atoi(r.out.substr(r.out.find("disk full ") + 10).c_str());
    EXPECT_LE(total, lim.disk_mb) << r.out;
    EXPECT_FALSE(fs::exists(r.workdir));
}

// Ordinary programs: the standard library, threads, fork, subprocess, asyncio, files. The filter must
// not change what they print.
TEST_F(SandboxEscape, OrdinaryProgramsRunAsWithoutTheFilter) {
    const std::string program =
        "import sys, os, math, itertools, collections, heapq, bisect, functools, re, json, random\n"
        "import decimal, fractions, datetime, time, hashlib, zlib, pickle, copy, statistics, sqlite3\n"
        "import threading, queue, concurrent.futures, subprocess, select, asyncio, tempfile, signal\n"
        "import mmap, shutil, resource\n"
        "print(sum(int(x) for x in sys.stdin.read().split()), math.factorial(20), math.isqrt(10**20))\n"
        "print(collections.Counter('abracadabra').most_common(2), bisect.bisect([1, 2, 3], 2))\n"
        "@functools.lru_cache(None)\ndef fib(k): return k if k < 2 else fib(k - 1) + fib(k - 2)\n"
        "print(fib(90), re.findall(r'\\d+', 'a1b22'), json.dumps({'a': [1]}), decimal.Decimal(1) / 7)\n"
        "random.seed(1); print(random.randint(1, 100), fractions.Fraction(3, 9), datetime.date(2020, 1, 1))\n"
        "print(hashlib.sha256(b'x').hexdigest()[:8], len(zlib.compress(b'x' * 99)), statistics.mean([1, "
        "2]))\n"
        "print(len(os.urandom(8)), time.time() > 0, time.monotonic() > 0, "
        "len(pickle.dumps(copy.copy([1]))))\n"
        "con = sqlite3.connect(':memory:'); print(con.execute('select 6 * 7').fetchone())\n"
        "sys.setrecursionlimit(10**6); threading.stack_size(64 << 20)\n"
        "def deep(k): return 0 if k == 0 else 1 + deep(k - 1)\n"
        "res = []; t = threading.Thread(target=lambda: res.append(deep(50000))); t.start(); t.join()\n"
        "threading.stack_size(0); print(res)\n"
        "with concurrent.futures.ThreadPoolExecutor(4) as ex: print(list(ex.map(lambda x: x * x, "
        "range(6))))\n"
        "q = queue.Queue(); q.put(1); print(q.get(timeout=1))\n"
        "r, w = os.pipe(); os.write(w, b'p'); print(select.select([r], [], [], 1)[0] == [r], os.read(r, 1))\n"
        "pid = os.fork()\nif pid == 0: os._exit(3)\nprint(os.WEXITSTATUS(os.waitpid(pid, 0)[1]))\n"
        "print(subprocess.run([sys.executable, '-c', 'print(41 + 1)'], capture_output=True).stdout)\n"
        "async def main():\n    await asyncio.sleep(0.01)\n    return 7\nprint(asyncio.run(main()))\n"
        "with open('f.txt', 'w') as f: f.write('hi')\n"
        "shutil.copy('f.txt', 'g.txt'); os.rename('g.txt', 'h.txt'); print(open('h.txt').read())\n"
        "with tempfile.TemporaryDirectory() as d: open(os.path.join(d, 'x'), 'w').write('y'); "
        "print(os.listdir(d))\n"
        "m = mmap.mmap(-1, 4096); m[0:1] = b'z'; print(m[0:1])\n"
        "signal.signal(signal.SIGALRM, lambda *a: None); signal.alarm(5); signal.alarm(0)\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 0, sys.stdin.isatty())\n"
        "print('done')\n";
    // Less common corners, each printing what it got (an error too, the same with and without the filter).
    const std::string corners =
        "import os, sys, subprocess, platform, faulthandler, shutil, select, signal, threading, ctypes, "
        "time\n"
        "def show(what, f):\n"
        "    try:\n        print(what, f())\n"
        "    except Exception as e:\n        print(what, type(e).__name__)\n"
        "show('shell', lambda: subprocess.run('echo hi | tr a-z A-Z', shell=True, "
        "capture_output=True).stdout)\n"
        "show('spawn', lambda: os.waitpid(os.posix_spawn('/usr/bin/true', ['true'], {}), 0)[1])\n"
        "show('platform', lambda: platform.system())\n"
        "show('faulthandler', lambda: faulthandler.enable())\n"
        "show('nice', lambda: os.nice(1))\n"
        "show('terminal', lambda: os.get_terminal_size())\n"
        "show('disk', lambda: shutil.disk_usage('.').total > 0)\n"
        "show('poll', lambda: select.poll().poll(1))\n"
        "show('epoll', lambda: select.epoll().poll(0.01))\n"
        "show('eventfd', lambda: os.eventfd_read(os.eventfd(3)))\n"
        "show('affinity', lambda: os.sched_setaffinity(0, os.sched_getaffinity(0)))\n"
        "show('pthread_kill', lambda: signal.pthread_kill(threading.get_ident(), 0))\n"
        "show('timer', lambda: (threading.Timer(0.01, lambda: None).start(), time.sleep(0.05)))\n"
        "show('callback', lambda: ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)(41))\n"
        "show('loadavg', lambda: os.getloadavg() is not None)\n"
        "show('gethostname', lambda: len(__import__('socket').gethostname()) >= 0)\n"
        "print('done')\n";
    for (const std::string& code : {program, corners}) {
        SandboxJob job;
        job.argv = {kPython, "-c", code};
        job.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
        job.stdin_data = "1 2 3\n";
        SandboxLimits lim = quick();
        lim.memory_mb = 1024;
        SandboxResult with = run_sandboxed(job, lim, SandboxIsolation::namespaces);
        lim.syscall_filter = false;
        SandboxResult without = run_sandboxed(job, lim, SandboxIsolation::namespaces);
        ASSERT_TRUE(with.started && without.started) << with.error << without.error;
        EXPECT_EQ(without.exit_code, 0) << without.err;
        EXPECT_EQ(with.exit_code, 0) << with.err;
        EXPECT_TRUE(has_line(with.out, "done")) << with.out << with.err;
        EXPECT_EQ(with.out, without.out);
    }
}

// The tables name calls as libseccomp knows them, on both architectures the filter is built for.
TEST(SandboxSyscallTables, NamesMatchEachArchitecture) {
    SandboxSyscallTables t = sandbox_syscall_tables();
    for (const char* name : t.allowed) {
        EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name), 0) << name;
        EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64, name), 0) << name;
    }
    for (const char* name : t.allowed_x86_64) {
        EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name), 0) << name;
        EXPECT_LT(seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64, name), 0)
            << name << " exists on aarch64";
    }
    for (const char* name : t.not_implemented) {
        EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name), 0) << name;
        EXPECT_GE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64, name), 0) << name;
    }
    for (const char* name : t.never) {
        EXPECT_NE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name), __NR_SCMP_ERROR) << name;
        EXPECT_NE(seccomp_syscall_resolve_name_arch(SCMP_ARCH_AARCH64, name), __NR_SCMP_ERROR) << name;
    }
    std::string why;
    for (bool in_namespaces : {true, false}) {
        size_t size = sandbox_seccomp_program(in_namespaces, &why).size();
        EXPECT_GT(size, 0u) << why;
        EXPECT_LE(size, size_t{BPF_MAXINSNS}) << "the kernel refuses a longer filter";
    }
}
