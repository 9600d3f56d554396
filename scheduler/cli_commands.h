// Role subcommands of `stride` (run, role, eval, data, reward ...), spliced into main.cpp's table.
#pragma once

// Each entry: {"name", function, "help"},
#define STRIDE_ROLE_COMMANDS
