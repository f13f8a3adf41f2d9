// Hot loops get AVX-512 and AVX2 clones, chosen at load time on CPUs that have them (GCC and Clang on
// x86-64); the default clone keeps the module portable.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define ICHBENCH_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#define ICHBENCH_HAVE_AVX2_CLONE 1
#else
#define ICHBENCH_HOT
#endif
