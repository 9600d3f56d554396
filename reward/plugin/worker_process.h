// Child processes of a reward pool (reward/plugin/plugin_pool.h): started by fork + exec, watched through a
// pidfd (readable once the child has exited, so a dispatcher can poll it next to its sockets), ended
// by SIGKILL when they hang.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace stride {

struct ChildProcess {
    pid_t pid = -1;
    int pidfd = -1;  // -1 where the kernel has no pidfd_open: poll child_exited() instead
};

// Starts argv[0] (a path) with exactly `env` as its environment. The child inherits no descriptors
// but stdin and stderr (its stdout is our stderr: a plug-in's printf must not corrupt a `stride reward
// score` pipe), starts with no signals blocked, and is SIGKILLed when the calling thread ends
// (PR_SET_PDEATHSIG), so a killed trainer leaves no orphaned workers. Throws Error on fork failure;
// an exec failure shows as exit status 127.
ChildProcess start_child(const std::vector<std::string>& argv, const std::vector<std::string>& env);

// The current environment with `extra` NAME=value entries added or replacing the same names.
std::vector<std::string> child_environment(const std::vector<std::string>& extra);

// Non-blocking: true once the child has exited (it is then reaped by end_child without waiting).
bool child_exited(const ChildProcess& c);

// Ends and reaps the child: SIGKILL at once when kill_it, else after grace_s seconds if it has not
// exited by itself. Closes the pidfd. Returns how it ended ("worker killed by signal 11
// (Segmentation fault)").
std::string end_child(ChildProcess& c, bool kill_it, double grace_s = 0.0);

std::string describe_exit(int wait_status);

// The running executable (/proc/self/exe resolved), for exec'ing ourselves and finding installed files.
std::string self_exe_path();

}  // namespace stride
