// Hot loops get AVX-512 and AVX2 clones, chosen at load time on CPUs that have them (GCC and Clang on
// x86-64); the default clone keeps the module portable. ICHBENCH_X86_DISPATCH marks the same platforms
// for the hand-written intrinsic paths, which ask uses_isa() at run time.
#pragma once

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define ICHBENCH_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#define ICHBENCH_X86_DISPATCH 1
#else
#define ICHBENCH_HOT
#endif

namespace ichbench {

#ifdef ICHBENCH_X86_DISPATCH
// Whether the hand-written paths may use an instruction set ("avx2", "avx512f", "avx512vpopcntdq",
// "avx512vbmi2"): the CPU must have it, and the environment variable ICHBENCH_POST_ISA ("sse2" or "avx2")
// may cap it, so that tests on an AVX-512 machine also run the narrower paths. Read once, at first use.
inline bool uses_isa(const char* isa) {
    static const int cap = [] {
        const char* v = std::getenv("ICHBENCH_POST_ISA");
        return v && !std::strcmp(v, "sse2") ? 0 : v && !std::strcmp(v, "avx2") ? 1 : 2;
    }();
    const int level = std::strcmp(isa, "avx2") ? 2 : 1;
    if (level > cap) return false;
    if (!std::strcmp(isa, "avx2")) return __builtin_cpu_supports("avx2");
    if (!std::strcmp(isa, "avx512f")) return __builtin_cpu_supports("avx512f");
    if (!std::strcmp(isa, "avx512vbmi2")) return __builtin_cpu_supports("avx512vbmi2");
    return __builtin_cpu_supports("avx512vpopcntdq");
}
#endif

}  // namespace ichbench
