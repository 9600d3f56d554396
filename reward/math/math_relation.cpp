// The canonical form of relations and lists (math_relation.h): which ones become intervals, equations,
// solution tuples.
#include "reward/math/math_relation.h"

namespace stride {

// "p=5,q=2;p=7,q=2": solutions separated by ';', each a group of two or more labelled values, are
// the tuples (5, 2), (7, 2). False (the items stay a flat list) for anything else.
bool MathRelationBuilder::solution_groups(const int* items, size_t count, const std::vector<size_t>& groups) {
    std::vector<int> tuples, values;  // once per answer, not per rule: allocating is fine here
    for (size_t g = 0; g < groups.size(); ++g) {
        const size_t begin = groups[g], end = g + 1 < groups.size() ? groups[g + 1] : count;
        if (end - begin < 2) return false;
        values.clear();
        for (size_t i = begin; i < end; ++i) {
            const Node& n = e_->nodes[items[i]];
            if (n.kind != NodeKind::relation || n.op != Tok::eq || n.count != 2 ||
                !is_variable(e_->kids[n.first]))
                return false;
            values.push_back(e_->kids[n.first + 1]);
        }
        const int tuple = nary(NodeKind::tuple, values.data(), values.size());
        if (tuple < 0) return false;
        e_->nodes[tuple].open = '(', e_->nodes[tuple].close = ')';
        tuples.push_back(tuple);
    }
    e_->root = nary(NodeKind::list, tuples.data(), tuples.size());
    return true;
}

int MathRelationBuilder::canonical_relation(const int* operands, Tok* ops, int nops) {
    nops = drop_approximation(operands, ops, nops);
    if (nops >= 2 && equal_signs_only(ops, nops)) return equation_chain(operands, nops);
    if (nops == 0) return operands[0];
    return nops <= 2 ? relation(operands, ops, nops) : -1;
}

// "\frac{\sqrt3}{3} \approx 0.577" is the exact answer, "x = \frac13 \approx 0.33" the equation:
// what follows the first \approx goes, unless only a name comes before it ("x \approx 11" is x = 11).
int MathRelationBuilder::drop_approximation(const int* x, Tok* ops, int nops) const {
    for (int i = 0; i < nops; ++i) {
        if (ops[i] != Tok::approx) continue;
        if (i > 0 || !names(x[0])) return i;
        ops[i] = Tok::eq;
    }
    return nops;
}
bool MathRelationBuilder::equal_signs_only(const Tok* ops, int nops) {
    for (int i = 0; i < nops; ++i)
        if (ops[i] != Tok::eq) return false;
    return true;
}
// "x = 5 + 5 + 1 = 7 = 11" states x = 11: the last name in the chain equals its last value
// (the first and last operands when no name is in it).
int MathRelationBuilder::equation_chain(const int* x, int nops) {
    int lhs = x[0];
    for (int i = 0; i < nops; ++i)
        if (names(x[i])) lhs = x[i];
    int pair[2] = {lhs, x[nops]};
    Tok eq = Tok::eq;
    return relation(pair, &eq, 1);
}

int MathRelationBuilder::relation(const int* x, const Tok* ops, int nops) {
    if (nops == 1 && ops[0] == Tok::in && plain_name(x[0])) return x[1];  // x \in [0, 1]
    const bool lower_first = ops[0] == Tok::lt || ops[0] == Tok::le;
    bool all_ineq = true;
    for (int i = 0; i < nops; ++i)
        all_ineq &= is_inequality(ops[i]) && (ops[i] == Tok::lt || ops[i] == Tok::le) == lower_first;
    if (all_ineq)
        if (int id = interval_of(x, ops, nops, lower_first); id != kNoInterval) return id;
    int id = nary(NodeKind::relation, x, nops + 1);
    if (id < 0) return -1;
    e_->nodes[id].op = ops[0];
    e_->nodes[id].op2 = nops > 1 ? ops[1] : Tok::end;
    return id;
}

// The interval(s) an inequality of one name states: x < c is (-inf, c), c < x is (c, inf) and the
// mirrored forms; 0 < f(x) < 1 is (0, 1); |x| < c is (-c, c), |x| > c is (-inf, -c) \cup (c, inf),
// 1 <= |z| <= 2 is [-2, -1] \cup [1, 2]. kNoInterval for any other relation.
int MathRelationBuilder::interval_of(const int* x, const Tok* ops, int nops, bool lower_first) {
    auto closed = [&](int i) { return ops[i] == Tok::le || ops[i] == Tok::ge; };
    if (nops == 1 && !names(x[0]) != !names(x[1])) {
        const bool left = names(x[0]);
        const int v = left ? x[0] : x[1], c = left ? x[1] : x[0];
        const bool below = left == lower_first;  // the name is below c
        if (plain_name(v))
            return below ? interval(infinity(true), c, false, closed(0))
                         : interval(c, infinity(false), closed(0), false);
        if (!abs_of_name(v)) return kNoInterval;
        const int minus_c = unary(NodeKind::neg, c);
        if (below) return interval(minus_c, c, closed(0), closed(0));
        return nary(NodeKind::list, {interval(infinity(true), minus_c, false, closed(0)),
                                     interval(c, infinity(false), closed(0), false)});
    }
    if (nops != 2 || names(x[0]) || names(x[2])) return kNoInterval;
    const int lo = lower_first ? x[0] : x[2], hi = lower_first ? x[2] : x[0];
    const bool lo_closed = closed(lower_first ? 0 : 1), hi_closed = closed(lower_first ? 1 : 0);
    if (plain_name(x[1])) return interval(lo, hi, lo_closed, hi_closed);
    if (!abs_of_name(x[1])) return kNoInterval;
    return nary(NodeKind::list,
                {interval(unary(NodeKind::neg, hi), unary(NodeKind::neg, lo), hi_closed, lo_closed),
                 interval(lo, hi, lo_closed, hi_closed)});
}

// A name with no absolute value in it (x, f(x)): an inequality of it is an interval of it.
bool MathRelationBuilder::plain_name(int id) const {
    return names(id) && !has_abs(id);
}
bool MathRelationBuilder::abs_of_name(int id) const {
    return id >= 0 && e_->nodes[id].kind == NodeKind::abs && plain_name(e_->nodes[id].a);
}
bool MathRelationBuilder::has_abs(int id) const {
    const Node& n = e_->nodes[id];
    if (n.kind == NodeKind::abs) return true;
    if ((n.a >= 0 && has_abs(n.a)) || (n.b >= 0 && has_abs(n.b))) return true;
    for (int i = 0; i < n.count; ++i)
        if (has_abs(e_->kids[n.first + i])) return true;
    return false;
}

}  // namespace stride
