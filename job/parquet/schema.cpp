// Schema elements into a tree with levels, and each leaf's type into the Kind its values become.
#include "job/parquet/schema.h"

#include "common/base/error.h"
#include "job/parquet/decimal.h"

namespace stride::parquet {

namespace {

// Indexed by parquet.thrift's ConvertedType; the caller checks the range.
const char* converted_name(int c) {
    static const char* names[] = {"UTF8",
                                  "MAP",
                                  "MAP_KEY_VALUE",
                                  "LIST",
                                  "ENUM",
                                  "DECIMAL",
                                  "DATE",
                                  "TIME_MILLIS",
                                  "TIME_MICROS",
                                  "TIMESTAMP_MILLIS",
                                  "TIMESTAMP_MICROS",
                                  "UINT_8",
                                  "UINT_16",
                                  "UINT_32",
                                  "UINT_64",
                                  "INT_8",
                                  "INT_16",
                                  "INT_32",
                                  "INT_64",
                                  "JSON",
                                  "BSON",
                                  "INTERVAL"};
    return names[c];
}

// Indexed by LogicalType's union field id; the caller checks the range.
const char* logical_name(int l) {
    static const char* names[] = {"",     "STRING",    "MAP",     "LIST",     "ENUM",     "DECIMAL", "DATE",
                                  "TIME", "TIMESTAMP", "(9)",     "INTEGER",  "UNKNOWN",  "JSON",    "BSON",
                                  "UUID", "FLOAT16",   "VARIANT", "GEOMETRY", "GEOGRAPHY"};
    return names[l];
}

// The refusal for a leaf whose type and annotation we do not decode, naming both.
[[noreturn]] void refuse(const Node& n, const std::string& what, const std::string& source) {
    throw Error(source + ": column '" + n.path + "': " + what + " is not supported");
}

[[noreturn]] void refuse_annotated(const Node& n, const std::string& source) {
    const int c = n.converted;
    const int l = n.logical;
    std::string what = std::string(physical_name(n.physical));
    if (l != kLogNone)
        what += std::string(" with logical type ") +
                (l > 0 && l < 19 ? logical_name(l) : std::to_string(l).c_str());
    else if (c >= 0)
        what +=
            std::string(" with converted type ") + (c < 22 ? converted_name(c) : std::to_string(c).c_str());
    refuse(n, what, source);
}

// Integers: plain, INTEGER(8..64 bits, signed or not) or the legacy INT_x / UINT_x annotations.
// Returns false for an annotation that is not an integer one.
bool integer_kind(const Node& n, const std::string& source, Kind& kind) {
    const bool is64 = n.physical == kInt64;
    const int c = n.converted;
    if (n.logical == kLogInteger) {
        if (n.int_bits != 8 && n.int_bits != 16 && n.int_bits != 32 && n.int_bits != 64)
            refuse(n, "INTEGER of " + std::to_string(n.int_bits) + " bits", source);
        if (is64)
            kind = n.int_signed ? Kind::kInt64 : Kind::kUInt64;
        else
            kind = n.int_signed ? Kind::kInt32 : Kind::kUInt32;
        return true;
    }
    if (n.logical != kLogNone) return false;
    if (c < 0 || (c >= 15 && c <= 18)) {  // INT_8..INT_64
        kind = is64 ? Kind::kInt64 : Kind::kInt32;
        return true;
    }
    if (c >= 11 && c <= 14) {  // UINT_8..UINT_64
        kind = is64 ? Kind::kUInt64 : Kind::kUInt32;
        return true;
    }
    return false;
}

// A time of day or a timestamp of `unit` (-1: none given) stored as `physical`: TIME(MILLIS) is INT32,
// the rest INT64. False when the physical type does not hold that unit.
bool time_of(const Node& n, int unit, bool utc, Kind kind, ValueType& t) {
    if (unit < 0 || unit > 2) return false;
    const int want = kind == Kind::kTime && unit == 0 ? kInt32 : kInt64;
    if (n.physical != want) return false;
    t.kind = kind;
    t.unit = static_cast<TimeUnit>(unit);
    t.utc = utc;
    return true;
}

// Dates, times, timestamps (INT96's legacy ones too) and decimals, by their logical type or else their
// converted type (which parquet.thrift defines as adjusted to UTC). False: none of these, or one on
// a physical type it cannot annotate.
bool temporal_or_decimal(const Node& n, const std::string& source, ValueType& t) {
    const int c = n.converted;
    const int l = n.logical;
    const bool legacy = l == kLogNone;
    if (l == kLogDecimal || (legacy && c == kDecimal)) {
        if (n.physical != kInt32 && n.physical != kInt64 && n.physical != kByteArray &&
            n.physical != kFixedLenByteArray)
            return false;
        if (n.scale < 0 || n.scale > kMaxDecimalScale)
            refuse(n, "DECIMAL with scale " + std::to_string(n.scale), source);
        t.kind = Kind::kDecimal;
        t.scale = n.scale;
        return true;
    }
    if (l == kLogDate || (legacy && c == kDate)) {
        t.kind = Kind::kDate;
        return n.physical == kInt32;
    }
    if (l == kLogTime) return time_of(n, n.time_unit, n.utc, Kind::kTime, t);
    if (l == kLogTimestamp) return time_of(n, n.time_unit, n.utc, Kind::kTimestamp, t);
    if (legacy && (c == kTimeMillis || c == kTimeMicros))
        return time_of(n, c == kTimeMillis ? 0 : 1, true, Kind::kTime, t);
    if (legacy && (c == kTimestampMillis || c == kTimestampMicros))
        return time_of(n, c == kTimestampMillis ? 0 : 1, true, Kind::kTimestamp, t);
    if (legacy && c < 0 && n.physical == kInt96) {  // Impala's and Spark's timestamps, in UTC
        t.kind = Kind::kTimestamp;
        t.unit = TimeUnit::kNanos;
        t.utc = true;
        return true;
    }
    return false;
}

// What a leaf's values become, or the refusal naming the column and what it uses.
ValueType leaf_type(const Node& n, const std::string& source) {
    if (n.logical == kLogNull) {  // a column of nulls only (pyarrow writes all-None columns so)
        Node plain = n;
        plain.logical = kLogNone;
        plain.converted = -1;
        return leaf_type(plain, source);
    }
    const int c = n.converted;
    const int l = n.logical;
    const bool bare = c < 0 && l == kLogNone;
    ValueType t;
    t.width = n.type_length;
    if (n.physical == kFixedLenByteArray && (n.type_length <= 0 || n.type_length > kMaxDecimalBytes))
        refuse(n, "FIXED_LEN_BYTE_ARRAY of " + std::to_string(n.type_length) + " bytes", source);
    if (temporal_or_decimal(n, source, t)) return t;
    switch (n.physical) {
        case kBoolean:
            if (bare) t.kind = Kind::kBool;
            break;
        case kInt32:
        case kInt64:
            if (integer_kind(n, source, t.kind)) return t;
            refuse_annotated(n, source);
        case kFloat:
            if (bare) t.kind = Kind::kFloat;
            break;
        case kDouble:
            if (bare) t.kind = Kind::kDouble;
            break;
        case kByteArray:
            if (c == kJson || l == kLogJson) {
                t.kind = Kind::kJson;
                return t;
            }
            if ((c < 0 || c == kUtf8 || c == kEnum) && (l == kLogNone || l == kLogString || l == kLogEnum))
                return t;  // a string
            break;
        case kInt96:
        case kFixedLenByteArray:
            if (bare) refuse(n, std::string("physical type ") + physical_name(n.physical), source);
            break;
        default:
            refuse(n, std::string("physical type ") + physical_name(n.physical), source);
    }
    if (!bare || t.kind == Kind::kString) refuse_annotated(n, source);
    return t;
}

// Links the children of schema[idx] (recursively) and gives them levels and paths; returns the
// index after its subtree. Depth-limited so a hostile footer cannot overflow the stack.
size_t build_tree(std::vector<Node>& s, size_t idx, int depth, const std::string& source) {
    if (depth > 64) throw Error(source + ": schema nested deeper than 64 levels");
    Node& n = s[idx];
    if (n.num_children < 0 || static_cast<size_t>(n.num_children) > s.size() - idx - 1)
        throw Error(source + ": schema element '" + n.name + "' claims more children than the schema has");
    size_t next = idx + 1;
    for (int i = 0; i < s[idx].num_children; ++i) {
        if (next >= s.size())
            throw Error(source + ": schema element '" + s[idx].name +
                        "' claims more children than the schema has");
        Node& c = s[next];
        const Node& parent = s[idx];
        c.def = parent.def + (c.repetition != kRequired ? 1 : 0);
        c.rep = parent.rep + (c.repetition == kRepeated ? 1 : 0);
        c.path = idx == 0 ? c.name : parent.path + "." + c.name;
        s[idx].children.push_back(static_cast<int>(next));
        next = build_tree(s, next, depth + 1, source);
    }
    return next;
}

// The leaves below schema[idx] in schema order, which is the order of a row group's column chunks.
void collect_leaves(const std::vector<Node>& s, int idx, std::vector<int>& path, std::vector<Leaf>& out,
                    const std::string& source) {
    const Node& n = s[idx];
    if (idx != 0) path.push_back(idx);
    if (idx != 0 && n.num_children == 0) {
        if (n.physical < 0) throw Error(source + ": column '" + n.path + "' is a group without children");
        out.push_back({idx, path, leaf_type(n, source)});
    } else {
        if (idx != 0 && n.physical >= 0)
            throw Error(source + ": schema element '" + n.path + "' has a type and children");
        for (int c : n.children) collect_leaves(s, c, path, out, source);
    }
    if (idx != 0) path.pop_back();
}

}  // namespace

void build_schema(FileMeta& m, const std::string& source) {
    std::vector<Node>& s = m.schema;
    if (s.empty()) throw Error(source + ": the footer has no schema");
    if (build_tree(s, 0, 0, source) != s.size())
        throw Error(source + ": the schema has elements outside its tree");
    std::vector<int> path;
    collect_leaves(s, 0, path, m.leaves, source);
}

bool is_list_like(const std::vector<Node>& s, const Node& n) {
    if (n.converted != kList && n.logical != kLogList) return false;
    if (n.children.size() != 1) return false;
    const Node& r = s[n.children[0]];
    return r.repetition == kRepeated && r.children.size() <= 1;
}

bool is_map_like(const std::vector<Node>& s, const Node& n) {
    if (n.converted != kMap && n.logical != kLogMap) return false;
    if (n.children.size() != 1) return false;
    const Node& r = s[n.children[0]];
    if (r.repetition != kRepeated || r.children.size() != 2) return false;
    for (int c : r.children)
        if (s[c].repetition == kRepeated) return false;
    return true;
}

}  // namespace stride::parquet
