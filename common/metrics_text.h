// common/metrics_text.h: the pieces of the Prometheus text exposition format 0.0.4 that are easy to
// get wrong — escaping and number rendering. Used by MetricsRegistry::render().
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace stride {

// Label values: backslash, double quote and newline become \\, \" and \n.
std::string escape_label_value(std::string_view v);
// HELP text: backslash and newline become \\ and \n (quotes stay as they are).
std::string escape_help(std::string_view v);
// A sample value: NaN, +Inf, -Inf, or the shortest decimal that reads back as the same double.
std::string format_metric_value(double v);
// {a="x",b="y"} (empty string for no labels); `extra` is appended as one more label (histogram le).
std::string format_labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                          std::string_view extra_name = {}, std::string_view extra_value = {});
// true for [a-zA-Z_:][a-zA-Z0-9_:]* (metric names) and, with colon_ok false, for label names.
bool valid_metric_name(std::string_view name, bool colon_ok = true);
// Makes any key a valid name part: every character outside [a-zA-Z0-9_] becomes '_'
// ("reward/mean" -> "reward_mean"). Used to mirror metrics.jsonl keys as gauges.
std::string sanitize_metric_name(std::string_view key);

}  // namespace stride
