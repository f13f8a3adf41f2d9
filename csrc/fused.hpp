// Windows to masks without the float map: each output row is stitched into a row buffer that stays in
// cache, compared with the threshold(s) and packed to bits; morphology then runs on the bits, only over
// the band of rows that holds foreground (plus a margin), and counts come from popcounts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "binarize.hpp"
#include "stitch.hpp"

namespace ichbench {

// Set bits of m, and of m & t, over n words. In a hot clone so that x86-64 uses the popcnt instruction
// (the baseline target has none and would call a bit-twiddling library routine per word).
ICHBENCH_HOT inline std::pair<int64_t, int64_t> count_bits_scalar(const uint64_t* __restrict m,
                                                                const uint64_t* __restrict t, std::size_t n) {
    int64_t all = 0, both = 0;
    for (std::size_t i = 0; i < n; ++i) {
        all += __builtin_popcountll(m[i]);
        both += __builtin_popcountll(m[i] & t[i]);
    }
    return {all, both};
}

#ifdef ICHBENCH_X86_DISPATCH
// Eight words a step with AVX-512's vector popcount.
__attribute__((target("avx512f,avx512vpopcntdq"))) inline std::pair<int64_t, int64_t> count_bits_avx512(
    const uint64_t* m, const uint64_t* t, std::size_t n) {
    __m512i all = _mm512_setzero_si512(), both = _mm512_setzero_si512();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m512i a = _mm512_loadu_si512(m + i), b = _mm512_loadu_si512(t + i);
        all = _mm512_add_epi64(all, _mm512_popcnt_epi64(a));
        both = _mm512_add_epi64(both, _mm512_popcnt_epi64(_mm512_and_si512(a, b)));
    }
    const auto rest = count_bits_scalar(m + i, t + i, n - i);
    return {_mm512_reduce_add_epi64(all) + rest.first, _mm512_reduce_add_epi64(both) + rest.second};
}
#endif

inline std::pair<int64_t, int64_t> count_bits(const uint64_t* m, const uint64_t* t, std::size_t n) {
#ifdef ICHBENCH_X86_DISPATCH
    static const bool vpopcnt = uses_isa("avx512vpopcntdq");
    if (vpopcnt) return count_bits_avx512(m, t, n);
#endif
    return count_bits_scalar(m, t, n);
}

// Per-thread buffers of the fused paths.
struct FusedScratch {
    std::vector<float> row;
    std::vector<BitImage> masks;
    std::vector<uint64_t*> rows;
    BitImage truth{0, 0};
    MorphScratch morph;
};

// The paper's post-processing from windows: stitch, threshold, close, open, without the float map.
inline void stitch_binarize_slice(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                                  const Coverage& C, float threshold, int close_k, int open_k, uint8_t* out,
                                  FusedScratch& s) {
    s.row.resize(L.width);
    if (s.masks.empty() || s.masks[0].height != L.height || s.masks[0].width != L.width)
        s.masks.assign(1, BitImage(L.height, L.width));
    BitImage& img = s.masks[0];
    for (int y = 0; y < L.height; ++y) {
        stitch_row(patches, L, P, weight, C, y, s.row.data());
        pack_row(s.row.data(), threshold, img, y);
    }
    morph_band(img, close_k, open_k, s.morph);
    unpack(img, out);
}

// For every threshold: TP, FP, FN, TN of the post-processed mask against a 0/1 truth, from one read of
// the windows. thresholds has T entries; out receives T rows of 4 counts.
inline void threshold_counts_slice(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                                   const Coverage& C, const uint8_t* truth, const float* thresholds, int T,
                                   int close_k, int open_k, int64_t* out, FusedScratch& s) {
    s.row.resize(L.width);
    // Kept between calls (only grown), so that alternating curve sizes do not reallocate every call.
    if (int(s.masks.size()) < T || (T && (s.masks[0].height != L.height || s.masks[0].width != L.width)))
        s.masks.assign(T, BitImage(L.height, L.width));
    if (s.truth.height != L.height || s.truth.width != L.width) s.truth = BitImage(L.height, L.width);
    for (int y = 0; y < L.height; ++y) {
        stitch_row(patches, L, P, weight, C, y, s.row.data());
        pack_row_multi(s.row.data(), thresholds, T, s.masks.data(), y, s.rows);
        pack_bytes(truth + std::size_t(y) * L.width, s.truth, y);
    }
    const int64_t truth_total = count_bits(s.truth.bits.data(), s.truth.bits.data(), s.truth.bits.size()).first;
    const int64_t pixels = int64_t(L.height) * L.width;
    for (int t = 0; t < T; ++t) {
        BitImage& m = s.masks[t];
        morph_band(m, close_k, open_k, s.morph);
        const auto [pred, tp] = count_bits(m.bits.data(), s.truth.bits.data(), m.bits.size());
        const int64_t fp = pred - tp, fn = truth_total - tp;
        int64_t* o = out + 4 * t;
        o[0] = tp, o[1] = fp, o[2] = fn, o[3] = pixels - tp - fp - fn;
    }
}

}  // namespace ichbench
