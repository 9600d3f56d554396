// The nodes of a parsed math answer, made one at a time within the bound on their number
// (math_tree_builder.h).
#include "reward/math/math_tree_builder.h"

namespace stride {

int MathTreeBuilder::add(Node n) {
    if (failed_ || e_->nodes.size() >= kMaxMathNodes) {
        failed_ = true;
        return -1;
    }
    if (n.kind == NodeKind::plus_minus) n.has_pm = true;
    if (n.a >= 0) n.has_pm |= e_->nodes[n.a].has_pm;
    if (n.b >= 0) n.has_pm |= e_->nodes[n.b].has_pm;
    for (int i = 0; i < n.count; ++i) n.has_pm |= e_->nodes[e_->kids[n.first + i]].has_pm;
    n.names = names_only(n);
    e_->nodes.push_back(n);
    return static_cast<int>(e_->nodes.size()) - 1;
}
// A name: x, f(x), AB, |AB|, \frac{NO}{BO}, V_1:V_2, (p, q): what labels an answer ("|AB| = 1").
bool MathTreeBuilder::names_only(const Node& n) const {
    switch (n.kind) {
        case NodeKind::symbol:
            return true;
        case NodeKind::abs:
            return e_->nodes[n.a].names;
        case NodeKind::div:
            return e_->nodes[n.a].names && e_->nodes[n.b].names;
        case NodeKind::mul:
        case NodeKind::tuple:
            for (int i = 0; i < n.count; ++i)
                if (!e_->nodes[e_->kids[n.first + i]].names) return false;
            return n.count > 0;
        default:
            return false;
    }
}

int MathTreeBuilder::unary(NodeKind kind, int a) {
    if (a < 0) return -1;
    Node n;
    n.kind = kind;
    n.a = a;
    return add(n);
}
int MathTreeBuilder::binary(NodeKind kind, int a, int b) {
    if (a < 0 || b < 0) return -1;
    Node n;
    n.kind = kind;
    n.a = a;
    n.b = b;
    return add(n);
}
int MathTreeBuilder::nary(NodeKind kind, const int* kids, size_t count) {
    if ((kind == NodeKind::add || kind == NodeKind::mul) && count == 1) return kids[0];
    for (size_t i = 0; i < count; ++i)
        if (kids[i] < 0) return -1;
    Node n;
    n.kind = kind;
    n.first = static_cast<int>(e_->kids.size());
    n.count = static_cast<int>(count);
    e_->kids.insert(e_->kids.end(), kids, kids + count);
    return add(n);
}
int MathTreeBuilder::leaf(NodeKind kind) {
    Node n;
    n.kind = kind;
    return add(n);
}
int MathTreeBuilder::symbol(std::string name) {
    int index = -1;
    for (size_t i = 0; i < e_->symbols.size() && index < 0; ++i)
        if (e_->symbols[i] == name) index = static_cast<int>(i);
    if (index < 0) {
        index = static_cast<int>(e_->symbols.size());
        e_->symbols.push_back(std::move(name));
    }
    Node n;
    n.kind = NodeKind::symbol;
    n.index = index;
    return add(n);
}
int MathTreeBuilder::number(const Value& v, std::string_view digits) {
    Node n;
    n.kind = NodeKind::number;
    n.index = static_cast<int>(e_->numbers.size());
    n.digits_pos = static_cast<int>(digits.data() - e_->source.data());
    n.digits_len = static_cast<int>(digits.size());
    e_->numbers.push_back(v);
    return add(n);
}
int MathTreeBuilder::interval(int lo, int hi, bool lo_closed, bool hi_closed) {
    int id = nary(NodeKind::tuple, {lo, hi});
    if (id < 0) return -1;
    e_->nodes[id].open = lo_closed ? '[' : '(';
    e_->nodes[id].close = hi_closed ? ']' : ')';
    return id;
}
int MathTreeBuilder::infinity(bool negative) {
    int inf = leaf(NodeKind::infinity);
    return negative ? unary(NodeKind::neg, inf) : inf;
}
bool MathTreeBuilder::is_variable(int id) const {
    return id >= 0 && e_->nodes[id].kind == NodeKind::symbol;
}
bool MathTreeBuilder::names(int id) const {
    return id >= 0 && e_->nodes[id].names;
}

}  // namespace stride
