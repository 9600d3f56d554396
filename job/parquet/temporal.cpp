// Calendar arithmetic for temporal values: a day count into a civil date (Howard Hinnant's
// days_from_civil inverse, exact for every int64 day count we can be handed), a count within a day
// into hours, minutes, seconds and the fraction.
#include "job/parquet/temporal.h"

#include <cstdio>

namespace stride::parquet {

namespace {

constexpr int64_t kSecondsPerDay = 86400;

int64_t per_second(TimeUnit u) {
    return u == TimeUnit::kMillis ? 1000 : u == TimeUnit::kMicros ? 1000000 : 1000000000;
}
int fraction_digits(TimeUnit u) {
    return u == TimeUnit::kMillis ? 3 : u == TimeUnit::kMicros ? 6 : 9;
}

int64_t floor_div(int64_t a, int64_t b) {
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// "HH:MM:SS.fff..." of `t` (0 <= t < one day in `unit`).
std::string clock_text(int64_t t, TimeUnit unit) {
    const int64_t ps = per_second(unit);
    const int64_t s = t / ps;
    char buf[96];  // room for any int64 fields, so snprintf never truncates
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%0*lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60), fraction_digits(unit),
                  static_cast<long long>(t % ps));
    return buf;
}

}  // namespace

std::string date_text(int64_t days) {
    const int64_t z = days + 719468;  // days since 0000-03-01
    const int64_t era = floor_div(z, 146097);
    const int64_t doe = z - era * 146097;                                       // [0, 146096]
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const int64_t mp = (5 * doy + 2) / 153;                                     // March is 0
    const int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[96];  // room for any int64 fields, so snprintf never truncates
    if (y >= 0 && y <= 9999)
        std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                      static_cast<long long>(m), static_cast<long long>(d));
    else
        std::snprintf(buf, sizeof buf, "%c%06lld-%02lld-%02lld", y < 0 ? '-' : '+',
                      static_cast<long long>(y < 0 ? -y : y), static_cast<long long>(m),
                      static_cast<long long>(d));
    return buf;
}

std::string timestamp_text(int64_t v, TimeUnit unit, bool utc) {
    const int64_t per_day = kSecondsPerDay * per_second(unit);
    const int64_t days = floor_div(v, per_day);
    return date_text(days) + "T" + clock_text(v - days * per_day, unit) + (utc ? "Z" : "");
}

std::string int96_timestamp_text(uint64_t nanos_of_day, uint32_t julian_day) {
    constexpr uint64_t kNanosPerDay = kSecondsPerDay * 1000000000ull;
    // A writer may leave more than a day in the nanoseconds; they carry into the date.
    const int64_t days =
        static_cast<int64_t>(julian_day) - 2440588 + static_cast<int64_t>(nanos_of_day / kNanosPerDay);
    return date_text(days) + "T" +
           clock_text(static_cast<int64_t>(nanos_of_day % kNanosPerDay), TimeUnit::kNanos) + "Z";
}

std::optional<std::string> time_text(int64_t t, TimeUnit unit, bool utc) {
    if (t < 0 || t >= kSecondsPerDay * per_second(unit)) return std::nullopt;
    return clock_text(t, unit) + (utc ? "Z" : "");
}

}  // namespace stride::parquet
