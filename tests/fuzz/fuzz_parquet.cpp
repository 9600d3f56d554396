// libFuzzer target: arbitrary bytes as a whole Parquet file. The reader must either read every row
// group or throw stride::Error; anything else (a crash, an ASan/UBSan report, another exception type,
// an allocation over libFuzzer's limit) is a bug. The limits are lowered so that a page may ask for at
// most 16 MiB, and a column chunk for 1M values.
//
// Not part of the CMake build: tests/fuzz/build_and_run.sh parquet compiles it with clang++
// -fsanitize=fuzzer.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/error.h"
#include "job/parquet/parquet_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        stride::parquet::Reader reader(data, size, "fuzz.parquet", {int64_t{16} << 20, int64_t{1} << 20});
        std::vector<stride::parquet::Row> rows;
        while (reader.next_row_group(rows)) {
            for (const auto& row : rows)
                (void)row.dump(-1, ' ', false, stride::parquet::Row::error_handler_t::replace);
        }
    } catch (const stride::Error&) {
        // Refused with a message: the expected outcome for most inputs.
    }
    return 0;
}
