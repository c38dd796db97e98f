// LPLB_HD marks math shared by the CPU backend and the CUDA kernels: it is
// __host__ __device__ under nvcc and a plain inline function elsewhere, so
// the same header compiles in CUDA-free builds and tests.
#pragma once

#if defined(__CUDACC__)
#define LPLB_HD __host__ __device__ __forceinline__
#else
#define LPLB_HD inline
#endif
