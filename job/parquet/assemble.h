// Record assembly: a leaf column's levels and values written into the rows (Dremel), then each row's
// LIST groups turned into arrays and MAP groups into objects.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/parquet/column_chunk.h"

namespace stride::parquet {

// Writes one leaf column's values into the rows, following its repetition and definition levels.
// The first leaf of a row group (`first`) creates the rows; the others only fill them in.
void assemble_leaf(const std::vector<Node>& s, const Leaf& leaf, const ChunkValues& d, std::vector<Row>& rows,
                   bool first, int64_t num_rows, const std::string& what);

// Reshapes an assembled row's nested groups: LIST groups become arrays of their elements and MAP
// groups objects keyed by their keys (the schema's wrapper groups disappear).
void shape_row(const std::vector<Node>& s, Row& row, const std::string& what);

}  // namespace stride::parquet
