// Logging: spdlog with one prefix per role, the level from config (log.level) and optional JSON lines
// (log.json) for log collectors. Call init_logging once per process; roles that share a process
// (launcher = threads) each take a role_logger so every line still says who wrote it.
//
//   text: [2025-01-01 12:00:00.123] [rollout-0] [info] generated 256 samples
//   json: {"ts":"2025-01-01T12:00:00.123Z","role":"rollout-0","level":"info","msg":"generated 256 samples"}
//
// Everything goes to stderr: stdout belongs to commands that print data (stride data gen, tokenize).
#pragma once
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace stride {

// trace | debug | info | warn | error | off. Throws Error naming the value.
spdlog::level::level_enum parse_log_level(const std::string& level);

// The line format; the logger's name is the role.
std::unique_ptr<spdlog::formatter> make_log_formatter(bool json);

// Makes the default logger (spdlog::info(...)) a stderr logger named `role` at `level`.
// Logs go to stderr and, when `file` is set, are appended to it too (the run directory's logs/).
void init_logging(const std::string& role, const std::string& level, bool json, const std::string& file = "");

// The progress line on stderr (status_line.h): on a terminal it stays below the log lines and is
// redrawn in place; otherwise each call writes a line. Log lines never land inside it.
void show_status_line(const std::string& text);
// Moves below the status line (on a terminal), so that what follows starts on a line of its own.
void end_status_line();

// A logger named `role` writing through the default logger's sinks and level; created on first use.
std::shared_ptr<spdlog::logger> role_logger(const std::string& role);

}  // namespace stride
