// DATE, TIME and TIMESTAMP values (and INT96's legacy timestamps) as ISO-8601 text in the proleptic
// Gregorian calendar: "YYYY-MM-DD", "HH:MM:SS.fff" and "YYYY-MM-DDTHH:MM:SS.fff", with three, six or
// nine fraction digits for millis, micros or nanos, and a "Z" when the value is adjusted to UTC
// (isAdjustedToUTC; a local one has none). Years outside 0000-9999 are signed and at least six
// digits ("+275760", "-000001"), as ISO-8601's expanded form and JavaScript's toISOString write them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "job/parquet/format.h"

namespace stride::parquet {

std::string date_text(int64_t days_since_epoch);
std::string timestamp_text(int64_t since_epoch, TimeUnit unit, bool utc);
// INT96: nanoseconds into the day, then the Julian day number (2440588 is 1970-01-01).
std::string int96_timestamp_text(uint64_t nanos_of_day, uint32_t julian_day);
// A time of day; nullopt when `since_midnight` is not within one day.
std::optional<std::string> time_text(int64_t since_midnight, TimeUnit unit, bool utc);

}  // namespace stride::parquet
