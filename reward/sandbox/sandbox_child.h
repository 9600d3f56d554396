// The sandboxed child between clone and exec (reward/sandbox/sandbox.h). A child of a threaded process may
// only make async-signal-safe calls (another thread may have held the allocator's lock at clone), so the
// parent prepares every path, string and number in a ChildPlan and the child only makes system calls.
#pragma once
#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace stride {

// One entry of the new root, paths relative to it (the child works from inside the fresh tmpfs).
struct ChildMount {
    enum Kind { dir, symlink, bind_dir, bind_file } kind;
    std::string path;                 // where in the new root
    std::string source;               // host path (bind_*) or link target (symlink)
    int mode = 0755;                  // dir
    unsigned long remount_flags = 0;  // bind_*: flags of a read-only remount (0: keep the bind as is)
};

struct ChildFile {
    std::string path;  // relative to the new root (namespaces) or absolute (host work dir)
    const std::string* content;
};

struct ChildLimit {
    int resource;
    rlim_t soft, hard;
};

struct ChildPlan {
    bool namespaces = true;
    std::string root;        // host temp dir: mount point of the new root, or the work dir itself
    std::string tmpfs_opts;  // mount options of the new root (size, inodes)
    std::vector<ChildMount> mounts;
    std::vector<ChildFile> files;        // namespaces only: written by the child into the fresh tmpfs
    std::string workdir;                 // cwd of the command, after pivot_root (namespaces) or on the host
    bool clear_groups = false;           // drop supplementary groups (Stride runs as root)
    uid_t uid = static_cast<uid_t>(-1);  // switch to these ids (-1: keep)
    gid_t gid = static_cast<gid_t>(-1);
    std::vector<ChildLimit> limits;
    int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
    int error_fd = -1;  // close-on-exec: the child writes why it failed here; EOF means exec worked
    int sync_fd = -1;   // namespaces: one byte from the parent once the uid/gid maps are written
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    const sock_fprog* filter = nullptr;  // nullptr: no seccomp filter
};

// The clone() entry point; returns only through _exit (127 with a report on error_fd: errno as an int,
// then the step that failed).
int sandbox_child_main(void* plan);

}  // namespace stride
