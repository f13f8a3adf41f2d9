// Windows to masks without the float map: each output row is stitched into a row buffer that stays in
// cache, compared with the threshold(s) and packed to bits; morphology then runs on the bits, only over
// the band of rows that holds foreground (plus a margin), and counts come from popcounts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "binarize.hpp"
#include "stitch.hpp"

namespace ichbench {

// For each output row, the windows that cover it, in window order (CSR layout).
struct RowPlan {
    std::vector<int> offsets;  // height + 1
    std::vector<int> ids;
};

inline RowPlan plan_rows(const Layout& L) {
    RowPlan P;
    P.offsets.assign(L.height + 1, 0);
    for (int k = 0; k < L.n; ++k)
        for (int y = int(L.corners[2 * k]); y < int(L.corners[2 * k]) + L.h; ++y) ++P.offsets[y + 1];
    for (int y = 0; y < L.height; ++y) P.offsets[y + 1] += P.offsets[y];
    P.ids.resize(P.offsets[L.height]);
    std::vector<int> fill(P.offsets.begin(), P.offsets.end() - 1);
    for (int k = 0; k < L.n; ++k)
        for (int y = int(L.corners[2 * k]); y < int(L.corners[2 * k]) + L.h; ++y) P.ids[fill[y]++] = k;
    return P;
}

// Output row y of stitch_slice, bit for bit: the same windows added in the same order, then scaled.
ICHBENCH_HOT inline void stitch_row(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                       const float* recip, int y, float* buf) {
    std::fill(buf, buf + L.width, 0.0f);
    const std::size_t ps = std::size_t(L.h) * L.w;
    for (int i = P.offsets[y]; i < P.offsets[y + 1]; ++i) {
        const int k = P.ids[i], r = int(L.corners[2 * k]), c = int(L.corners[2 * k + 1]);
        const float* q = patches + k * ps + std::size_t(y - r) * L.w;
        float* o = buf + c;
        if (weight == nullptr) {
            for (int x = 0; x < L.w; ++x) o[x] += q[x];
        } else {
            const float* g = weight + std::size_t(y - r) * L.w;
            for (int x = 0; x < L.w; ++x) o[x] += q[x] * g[x];
        }
    }
    const float* rr = recip + std::size_t(y) * L.width;
    for (int x = 0; x < L.width; ++x) buf[x] *= rr[x];
}

inline int popcount64(uint64_t v) { return __builtin_popcountll(v); }

// Per-thread buffers of the fused paths.
struct FusedScratch {
    std::vector<float> row;
    std::vector<BitImage> masks;
    BitImage truth{0, 0};
    MorphScratch morph;
};

// The paper's post-processing from windows: stitch, threshold, close, open, without the float map.
inline void stitch_binarize_slice(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                                  const float* recip, float threshold, int close_k, int open_k, uint8_t* out,
                                  FusedScratch& s) {
    s.row.resize(L.width);
    if (s.masks.empty() || s.masks[0].height != L.height || s.masks[0].width != L.width)
        s.masks.assign(1, BitImage(L.height, L.width));
    BitImage& img = s.masks[0];
    for (int y = 0; y < L.height; ++y) {
        stitch_row(patches, L, P, weight, recip, y, s.row.data());
        pack_row(s.row.data(), L.width, threshold, img.row(y), img.words);
    }
    morph_band(img, close_k, open_k, s.morph);
    unpack(img, out);
}

// For every threshold: TP, FP, FN, TN of the post-processed mask against a 0/1 truth, from one read of
// the windows. thresholds has T entries; out receives T rows of 4 counts.
inline void threshold_counts_slice(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                                   const float* recip, const uint8_t* truth, const float* thresholds, int T,
                                   int close_k, int open_k, int64_t* out, FusedScratch& s) {
    s.row.resize(L.width);
    if (int(s.masks.size()) != T || (T && (s.masks[0].height != L.height || s.masks[0].width != L.width)))
        s.masks.assign(T, BitImage(L.height, L.width));
    if (s.truth.height != L.height || s.truth.width != L.width) s.truth = BitImage(L.height, L.width);
    for (int y = 0; y < L.height; ++y) {
        stitch_row(patches, L, P, weight, recip, y, s.row.data());
        for (int t = 0; t < T; ++t) pack_row(s.row.data(), L.width, thresholds[t], s.masks[t].row(y), s.masks[t].words);
        pack_bytes(truth + std::size_t(y) * L.width, L.width, s.truth.row(y), s.truth.words);
    }
    int64_t truth_total = 0;
    for (uint64_t v : s.truth.bits) truth_total += popcount64(v);
    const int64_t pixels = int64_t(L.height) * L.width;
    for (int t = 0; t < T; ++t) {
        BitImage& m = s.masks[t];
        morph_band(m, close_k, open_k, s.morph);
        int64_t tp = 0, pred = 0;
        for (std::size_t i = 0; i < m.bits.size(); ++i) {
            pred += popcount64(m.bits[i]);
            tp += popcount64(m.bits[i] & s.truth.bits[i]);
        }
        const int64_t fp = pred - tp, fn = truth_total - tp;
        int64_t* o = out + 4 * t;
        o[0] = tp, o[1] = fp, o[2] = fn, o[3] = pixels - tp - fp - fn;
    }
}

}  // namespace ichbench
