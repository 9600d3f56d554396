// The sandbox's syscall filter (reward/sandbox/sandbox.h), built with libseccomp.
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

namespace stride {

// The filter as a classic BPF program, built once and cached: the child between clone and exec may
// not allocate, so it only hands this to prctl(PR_SET_SECCOMP). Empty, with *why set, when libseccomp
// could not build it. local_sockets: socket(AF_UNIX) is allowed (in a network and mount namespace it
// reaches nothing outside); otherwise only socketpair(AF_UNIX) is.
const std::vector<sock_filter>& sandbox_seccomp_program(bool local_sockets, std::string* why);

}  // namespace stride
