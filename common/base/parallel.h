// Thread count for CPU kernels. STRIDE_THREADS overrides; default = hardware cores.
// Kernels use OpenMP loops; BLAS gets the same count.
#pragma once

namespace stride {

// Number of worker threads CPU kernels use (>= 1). Reads STRIDE_THREADS once.
int num_threads();

// Applies num_threads() to OpenMP and OpenBLAS. Call once at program start (idempotent).
void init_threads();

// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back to its Prescott (SSE3)
// kernels: 5x slower SGEMM (measured 40 vs 218 GFLOP/s on 2 cores). OpenBLAS picks its kernels when
// it is loaded, before main, from OPENBLAS_CORETYPE. So when it reports Prescott on a CPU with
// AVX-512 (or AVX2+FMA), this sets OPENBLAS_CORETYPE=SkylakeX (or Haswell) and re-executes the
// program with the same arguments. Call first thing in main(). A user's OPENBLAS_CORETYPE is kept.
void ensure_fast_blas_kernels(char** argv);

// `blas_kernels: portable`: the same floating-point results on every x86-64-v3 CPU, Intel or AMD.
// OpenBLAS's per-CPU kernels sum in different orders (1e-5 apart in a log-prob), and one flipped
// sampled token sends a run down another trajectory; its Haswell (AVX2 + FMA) kernels run on every
// CPU this binary runs on, and the rest of the arithmetic is ours, compiled once. If OpenBLAS runs
// other kernels, this sets OPENBLAS_CORETYPE=Haswell and re-executes the program with its original
// arguments (from /proc/self/cmdline); returns when nothing needs to change or on a CPU without
// AVX2 + FMA (there: a warning, the run goes on with OpenBLAS's choice).
void use_portable_blas_kernels();

// The name of the kernels OpenBLAS runs ("Haswell", "Zen", ...).
const char* blas_kernel_name();

}  // namespace stride
