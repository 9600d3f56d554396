// Token embedding lookup.
#pragma once

namespace stride {

// out[T, H] = table[tokens[t]]. Tokens out of [0, V) throw Error.
void embedding_forward(float* out, const int* tokens, const float* table, int T, int H, int V);
// Accumulates dtable[tokens[t]] += dout[t].
void embedding_backward(float* dtable, const float* dout, const int* tokens, int T, int H);

}  // namespace stride
