// proto/schema.h: the wire schema version as a C++ constant. The number itself lives in stride.proto
// (enum SchemaVersion) so that the .proto file and the code cannot disagree.
#pragma once
#include <cstdint>

#include "proto/stride.pb.h"

namespace stride {

inline constexpr uint32_t kSchemaVersion = stride::v1::SCHEMA_VERSION_CURRENT;

}  // namespace stride
