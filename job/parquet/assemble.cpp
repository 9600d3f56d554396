// Assembly walks each entry's path from the top-level column down to the leaf. The repetition level
// says at which repeated node a new element starts (0: a new row); the definition level says how deep
// the path is defined (below it: a null or an empty list). Assembled rows mirror the schema's groups;
// shaping then removes LIST and MAP wrappers.
#include "job/parquet/assemble.h"

#include "common/base/error.h"
#include "job/parquet/schema.h"

namespace stride::parquet {

namespace {

[[noreturn]] void misfit(const std::string& what) {
    throw Error(what + ": levels that do not fit the schema");
}

// The row an entry with repetition level `r` belongs to: r == 0 starts the next one.
Row& entry_row(int r, int64_t& row, std::vector<Row>& rows, bool first, int64_t num_rows,
               const std::string& what) {
    if (r == 0) {
        ++row;
        if (row >= num_rows)
            throw Error(what + ": more rows than the row group's " + std::to_string(num_rows));
        if (first)
            rows.emplace_back(Row::object());
        else if (static_cast<size_t>(row) >= rows.size())
            throw Error(what + ": more rows than the other columns");
    } else if (row < 0) {
        throw Error(what + ": the first value continues a row");
    }
    return rows[row];
}

// cursor[j]: the index, within the repeated node at repetition level j, that this entry writes to.
// Repeating at level r moves to the next element there and restarts every deeper level.
void advance_cursor(std::vector<size_t>& cursor, int r, int max_rep) {
    for (int j = 1; j <= max_rep; ++j) {
        if (j == r)
            ++cursor[j];
        else if (j > r)
            cursor[j] = 0;
    }
}

// Consumes the next value, which the leaf's entries at its full definition level carry.
const Row& next_value(const ChunkValues& d, size_t& vi, const std::string& what) {
    if (vi >= d.values.size()) throw Error(what + ": fewer values than the levels say");
    return d.values[vi++];
}

// Writes one entry (definition level `dl`) along the leaf's path in `row`.
void place_entry(const std::vector<Node>& s, const Leaf& leaf, int dl, const std::vector<size_t>& cursor,
                 const ChunkValues& d, size_t& vi, Row& row, const std::string& what) {
    Row* cur = &row;
    for (size_t k = 0; k < leaf.path.size(); ++k) {
        const Node& node = s[leaf.path[k]];
        const bool is_leaf = k + 1 == leaf.path.size();
        if (!cur->is_object()) misfit(what);
        Row& obj = *cur;
        if (dl < node.def) {  // not defined here: a null, or an empty list
            if (obj.find(node.name) == obj.end())
                obj[node.name] = node.repetition == kRepeated ? Row::array() : Row(nullptr);
            return;
        }
        auto fresh = [&]() -> Row { return is_leaf ? next_value(d, vi, what) : Row::object(); };
        if (node.repetition == kRepeated) {
            Row& arr = obj[node.name];
            if (arr.is_null()) arr = Row::array();
            if (!arr.is_array()) misfit(what);
            const size_t idx = cursor[node.rep];
            if (idx == arr.size())
                arr.push_back(fresh());
            else if (idx > arr.size() || is_leaf)
                misfit(what);
            cur = &arr[idx];
        } else if (is_leaf) {
            obj[node.name] = fresh();
        } else {
            Row& child = obj[node.name];
            if (child.is_null()) child = Row::object();
            cur = &child;
        }
    }
}

void shape_value(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what);

// A field's value: an array of elements when the node repeats.
void shape_field(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    if (n.repetition == kRepeated) {
        if (!v.is_array()) return;
        for (Row& e : v) shape_value(s, n, e, what);
    } else {
        shape_value(s, n, v, what);
    }
}

// LIST: the repeated group's entries become the array; with one element field, its values.
void shape_list(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    const Node& r = s[n.children[0]];
    Row out = Row::array();
    auto it = v.find(r.name);
    if (it != v.end() && it->is_array()) {
        for (Row& e : *it) {
            if (r.children.size() == 1) {
                const Node& el = s[r.children[0]];
                auto f = e.find(el.name);
                Row x = f == e.end() ? Row(nullptr) : std::move(*f);
                shape_field(s, el, x, what);
                out.push_back(std::move(x));
            } else {
                shape_value(s, r, e, what);
                out.push_back(std::move(e));
            }
        }
    }
    v = std::move(out);
}

// JSON object keys are strings: string keys stay, numbers and booleans are written as JSON.
std::string map_key(const Row& k, const Node& n, const std::string& what) {
    if (k.is_string()) return k.get<std::string>();
    if (k.is_number() || k.is_boolean()) return k.dump();
    throw Error(what + ": column '" + n.path + "': a MAP key that is not a string or a number");
}

// MAP: the repeated key/value group's entries become one object.
void shape_map(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    const Node& r = s[n.children[0]];
    const Node* key = nullptr;
    const Node* val = nullptr;
    for (int c : r.children) (s[c].name == "key" ? key : val) = &s[c];
    if (!key || !val) throw Error(what + ": column '" + n.path + "': a MAP without a 'key' field");
    Row out = Row::object();
    auto it = v.find(r.name);
    if (it != v.end() && it->is_array()) {
        for (Row& e : *it) {
            Row k = e.contains(key->name) ? e[key->name] : Row(nullptr);
            Row x = e.contains(val->name) ? std::move(e[val->name]) : Row(nullptr);
            shape_field(s, *val, x, what);
            out[map_key(k, n, what)] = std::move(x);
        }
    }
    v = std::move(out);
}

// LIST groups become arrays of their elements and MAP groups objects; structs recurse.
void shape_value(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    if (v.is_null() || n.children.empty()) return;
    if (is_list_like(s, n)) return shape_list(s, n, v, what);
    if (is_map_like(s, n)) return shape_map(s, n, v, what);
    if (!v.is_object()) return;
    for (int c : n.children) {
        auto it = v.find(s[c].name);
        if (it != v.end()) shape_field(s, s[c], *it, what);
    }
}

}  // namespace

void assemble_leaf(const std::vector<Node>& s, const Leaf& leaf, const ChunkValues& d, std::vector<Row>& rows,
                   bool first, int64_t num_rows, const std::string& what) {
    const Node& ln = s[leaf.node];
    std::vector<size_t> cursor(ln.rep + 1, 0);
    int64_t row = -1;
    size_t vi = 0;
    const size_t n = d.def.size();
    if (d.rep.size() != n) throw Error(what + ": repetition and definition levels differ in number");
    for (size_t i = 0; i < n; ++i) {
        Row& r = entry_row(d.rep[i], row, rows, first, num_rows, what);
        advance_cursor(cursor, d.rep[i], ln.rep);
        place_entry(s, leaf, d.def[i], cursor, d, vi, r, what);
    }
    if (vi != d.values.size()) throw Error(what + ": more values than the levels say");
    if (row + 1 != num_rows)
        throw Error(what + ": " + std::to_string(row + 1) + " rows where the row group has " +
                    std::to_string(num_rows));
}

void shape_row(const std::vector<Node>& s, Row& row, const std::string& what) {
    for (int c : s[0].children) {
        auto it = row.find(s[c].name);
        if (it != row.end()) shape_field(s, s[c], *it, what);
    }
}

}  // namespace stride::parquet
