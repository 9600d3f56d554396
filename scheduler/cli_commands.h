// Role subcommands of `stride` (run, role, eval, data, reward ...), spliced into main.cpp's table.
#pragma once

namespace stride::cli {

int data(int argc, char** argv);    // stride data gen --task arith|collatz --n N --seed S --out FILE
int config(int argc, char** argv);  // stride config keys | check CONFIG [key=value ...]

}  // namespace stride::cli

// Each entry: {"name", function, "help"},
#define STRIDE_ROLE_COMMANDS                                                                       \
    {"data", stride::cli::data, "generate a synthetic dataset: data gen --task arith|collatz ..."}, \
        {"config", stride::cli::config, "list config keys, or check CONFIG [key=value ...] and print it resolved"},
