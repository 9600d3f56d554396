// The text of Parquet's dates, times, timestamps and decimals (job/parquet/temporal.h, decimal.h) at
// the edges the oracle files do not all reach: the extreme integers, two's complement byte strings,
// years before 0001 and after 9999, sub-second digits before 1970, INT96 nanoseconds past a day, and
// times outside the day. tests/job/test_parquet.cpp checks whole files against hyparquet.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "job/parquet/decimal.h"
#include "job/parquet/temporal.h"

namespace stride::parquet {
namespace {

std::string bytes_text(std::vector<uint8_t> b, int scale) {
    return decimal_text(b.data(), b.size(), scale);
}

TEST(ParquetValues, DecimalsAreExactWithTheirScale) {
    EXPECT_EQ(decimal_text(std::numeric_limits<int64_t>::min(), 4), "-922337203685477.5808");
    EXPECT_EQ(decimal_text(std::numeric_limits<int64_t>::max(), 0), "9223372036854775807");
    EXPECT_EQ(decimal_text(5, 3), "0.005");
    EXPECT_EQ(decimal_text(-5, 3), "-0.005");
    EXPECT_EQ(decimal_text(1230, 2), "12.30") << "trailing zeros of the scale are kept";
    EXPECT_EQ(decimal_text(0, 2), "0.00");
    EXPECT_EQ(bytes_text({}, 0), "0");
    EXPECT_EQ(bytes_text({0xff}, 0), "-1");
    EXPECT_EQ(bytes_text({0x00, 0x80}, 1), "12.8");
    EXPECT_EQ(bytes_text({0xff, 0x80}, 1), "-12.8");
    std::vector<uint8_t> min128(16, 0);
    min128[0] = 0x80;
    EXPECT_EQ(bytes_text(min128, 0), "-170141183460469231731687303715884105728");
    EXPECT_EQ(bytes_text(min128, 38), "-1.70141183460469231731687303715884105728");
    std::vector<uint8_t> max128(16, 0xff);
    max128[0] = 0x7f;
    EXPECT_EQ(bytes_text(max128, 10), "17014118346046923173168730371.5884105727");
    EXPECT_EQ(bytes_text(std::vector<uint8_t>(9, 0), 0), "0") << "leading zero bytes";
}

TEST(ParquetValues, DatesAndTimestampsAreIso8601) {
    EXPECT_EQ(date_text(0), "1970-01-01");
    EXPECT_EQ(date_text(-1), "1969-12-31");
    EXPECT_EQ(date_text(19782), "2024-02-29");
    EXPECT_EQ(date_text(-719162), "0001-01-01");
    EXPECT_EQ(date_text(-719163), "0000-12-31");
    EXPECT_EQ(date_text(-719529), "-000001-12-31");
    EXPECT_EQ(date_text(2932896), "9999-12-31");
    EXPECT_EQ(date_text(2932897), "+010000-01-01");
    EXPECT_EQ(timestamp_text(-1, TimeUnit::kMillis, true), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(timestamp_text(-1, TimeUnit::kNanos, false), "1969-12-31T23:59:59.999999999");
    EXPECT_EQ(timestamp_text(1709211900250000, TimeUnit::kMicros, true), "2024-02-29T13:05:00.250000Z");
    EXPECT_EQ(timestamp_text(std::numeric_limits<int64_t>::min(), TimeUnit::kNanos, true),
              "1677-09-21T00:12:43.145224192Z");
    EXPECT_EQ(int96_timestamp_text(0, 2440588), "1970-01-01T00:00:00.000000000Z");
    EXPECT_EQ(int96_timestamp_text(86400000000000ull + 5, 2440588), "1970-01-02T00:00:00.000000005Z")
        << "nanoseconds past a day carry into the date";
    EXPECT_EQ(int96_timestamp_text(0, 1721426), "0001-01-01T00:00:00.000000000Z");
}

TEST(ParquetValues, TimesOfDayAndTheirRange) {
    EXPECT_EQ(time_text(0, TimeUnit::kMillis, false), "00:00:00.000");
    EXPECT_EQ(time_text(86399999, TimeUnit::kMillis, true), "23:59:59.999Z");
    EXPECT_EQ(time_text(45900000001, TimeUnit::kMicros, false), "12:45:00.000001");
    EXPECT_FALSE(time_text(86400000, TimeUnit::kMillis, false)) << "a whole day is past the day";
    EXPECT_FALSE(time_text(-1, TimeUnit::kNanos, false));
}

}  // namespace
}  // namespace stride::parquet
