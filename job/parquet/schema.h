// The schema tree: links the footer's flat, depth-first schema elements into a tree, gives each node
// its definition and repetition levels and dotted path, and lists the leaves (the columns that hold
// values) with what their values become. Also tells LIST and MAP groups apart from plain structs.
#pragma once
#include <string>
#include <vector>

#include "job/parquet/file_meta.h"

namespace stride::parquet {

// Builds the tree and m.leaves from m.schema; refuses malformed trees and unsupported leaf types.
void build_schema(FileMeta& m, const std::string& source);

// A LIST group in the standard three-level shape (a repeated group of at most one element field).
bool is_list_like(const std::vector<Node>& s, const Node& n);
// A MAP group: a repeated group of exactly a key and a value field, neither repeated.
bool is_map_like(const std::vector<Node>& s, const Node& n);

}  // namespace stride::parquet
