// Binary morphology with rectangular kernels on bit-packed masks, matching
// OpenCV's dilate/erode/morphologyEx (anchor at k/2, outside of the image neutral).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "bitimage.hpp"
#include "hot.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ichbench {

// Scratch buffers reused across calls by one thread.
struct MorphScratch {
    std::vector<uint64_t> wide, ping, pong, zero;  // ping and pong: the column pass's alternating buffers

    // Column j of `wide` when its columns hold `total` words each (a view's rows plus the kernel's padding).
    uint64_t* wide_col(int j, int total) { return wide.data() + std::size_t(j) * column_stride(total); }
};

// One word column as a row pass reads it: x ^ flip, then & keep (flip ~0 reads the complement; keep
// clears the bits past the last pixel, or everything for a column outside the image).
struct ColumnRead {
    const uint64_t* x;
    uint64_t flip, keep;
};

// d = (x ^ flip) & keep.
ICHBENCH_HOT inline void copy_read(uint64_t* __restrict d, ColumnRead c, int n) {
    const uint64_t* __restrict x = c.x;
    for (int y = 0; y < n; ++y) d[y] = (x[y] ^ c.flip) & c.keep;
}

// d = (hi << s) | (lo >> (64 - s)): bit x of d is bit x - s of the two-word pair (lo, hi); 0 <= s < 64.
ICHBENCH_HOT inline void set_shl(uint64_t* __restrict d, ColumnRead hi, ColumnRead lo, int s, int n) {
    const uint64_t* __restrict h = hi.x;
    const uint64_t* __restrict l = lo.x;
    if (s == 0) return copy_read(d, hi, n);
    for (int y = 0; y < n; ++y) d[y] = (((h[y] ^ hi.flip) & hi.keep) << s) | (((l[y] ^ lo.flip) & lo.keep) >> (64 - s));
}

// d |= (lo >> s) | (hi << (64 - s)): bit x of the pair (lo, hi) moved to x - s; lo is d itself or another column.
ICHBENCH_HOT inline void or_shr(uint64_t* __restrict d, const uint64_t* __restrict lo, const uint64_t* __restrict hi, int s,
                   int n) {
    if (s == 0) {
        for (int y = 0; y < n; ++y) d[y] |= lo[y];
        return;
    }
    for (int y = 0; y < n; ++y) d[y] |= (lo[y] >> s) | (hi[y] << (64 - s));
}

ICHBENCH_HOT inline void or_shr_self(uint64_t* __restrict d, const uint64_t* __restrict hi, int s, int n) {
    for (int y = 0; y < n; ++y) d[y] |= (d[y] >> s) | (hi[y] << (64 - s));
}

// d(y) = a(y) | a(y + off), a read as zero past its end.
ICHBENCH_HOT inline void or_ahead(uint64_t* __restrict d, const uint64_t* __restrict a, int off, int total) {
    const int split = std::max(0, total - off);
    for (int y = 0; y < split; ++y) d[y] = a[y] | a[y + off];
    std::copy(a + split, a + total, d + split);
}

// The doubling shifts that widen a window of 1 to k: 1, 2, 4, ... and the remainder.
inline int doubling_steps(int k, int* steps) {
    int n = 0, len = 1;
    for (; 2 * len <= k; len *= 2) steps[n++] = len;
    if (len < k) steps[n++] = k - len;
    return n;
}

// Eight words of a column as one value: GCC/Clang vector extensions, so each hot clone uses its widest
// registers (one AVX-512 register, two AVX2, four SSE2).
typedef uint64_t u64x8 __attribute__((vector_size(64)));

// The row dilation of one word from the words before and after it, for k <= 64: the anchor shift and the
// doubling run on the (word, next word) pair in registers. What the word after next would add stays in
// the pair's top bits, above every bit a later step reads (the shifts sum to k - 1 < 64).
template <typename V>
__attribute__((always_inline)) inline V dilate_word(V prev, V cur, V next, int anchor, const int* steps, int nsteps) {
    // (x >> 1) >> (63 - a) is x >> (64 - a) without the undefined shift by 64 when a = 0.
    V lo = (cur << anchor) | ((prev >> 1) >> (63 - anchor));
    V hi = (next << anchor) | ((cur >> 1) >> (63 - anchor));
    for (int t = 0; t < nsteps - 1; ++t) {
        lo |= (lo >> steps[t]) | (hi << (64 - steps[t]));
        hi |= hi >> steps[t];
    }
    if (nsteps > 0) lo |= (lo >> steps[nsteps - 1]) | (hi << (64 - steps[nsteps - 1]));  // hi is not read again
    return lo;
}

// Rows [y, rows) of one word column of the row dilation, one word at a time (the rows a vector loop leaves).
inline void dilate_word_rows(uint64_t* d, const ColumnRead& prev, const ColumnRead& cur, const ColumnRead& next, int y,
                             int rows, int anchor, const int* steps, int nsteps) {
    for (; y < rows; ++y) {
        auto one = [y](const ColumnRead& c) { return (c.x[y] ^ c.flip) & c.keep; };
        d[y] = dilate_word(one(prev), one(cur), one(next), anchor, steps, nsteps);
    }
}

// One word column of the row dilation (k <= 64) in a single pass over its neighbours, eight rows at a time.
ICHBENCH_HOT inline void dilate_word_column(uint64_t* __restrict d, ColumnRead prev, ColumnRead cur, ColumnRead next,
                                            int rows, int anchor, const int* steps, int nsteps) {
    int y = 0;
    for (; y + 8 <= rows; y += 8) {
        u64x8 p, c, n;
        std::memcpy(&p, prev.x + y, sizeof p);
        std::memcpy(&c, cur.x + y, sizeof c);
        std::memcpy(&n, next.x + y, sizeof n);
        const u64x8 out = dilate_word((p ^ prev.flip) & prev.keep, (c ^ cur.flip) & cur.keep,
                                      (n ^ next.flip) & next.keep, anchor, steps, nsteps);
        std::memcpy(d + y, &out, sizeof out);
    }
    dilate_word_rows(d, prev, cur, next, y, rows, anchor, steps, nsteps);
}

#ifdef ICHBENCH_X86_DISPATCH
// Eight words of a column as a row pass reads them: (x ^ flip) & keep, one ternary-logic instruction.
__attribute__((target("avx512f"))) inline __m512i read8(const ColumnRead& c, int y) {
    return _mm512_ternarylogic_epi64(_mm512_loadu_si512(c.x + y), _mm512_set1_epi64(int64_t(c.flip)),
                                     _mm512_set1_epi64(int64_t(c.keep)), 0x28);
}

// dilate_word_column with AVX-512 VBMI2's funnel shifts: (lo >> s) | (hi << (64 - s)) and the anchor shift
// are one instruction each, which halves the shifts, the row pass's bottleneck.
__attribute__((target("avx512f,avx512vbmi2"))) inline void dilate_word_column_vbmi2(
    uint64_t* d, ColumnRead prev, ColumnRead cur, ColumnRead next, int rows, int anchor, const int* steps,
    int nsteps) {
    const __m512i a = _mm512_set1_epi64(anchor);
    __m512i s[8];
    for (int t = 0; t < nsteps; ++t) s[t] = _mm512_set1_epi64(steps[t]);
    int y = 0;
    for (; y + 8 <= rows; y += 8) {
        const __m512i p = read8(prev, y), c = read8(cur, y), n = read8(next, y);
        __m512i lo = _mm512_shldv_epi64(c, p, a), hi = _mm512_shldv_epi64(n, c, a);
        for (int t = 0; t < nsteps - 1; ++t) {
            lo = _mm512_or_si512(lo, _mm512_shrdv_epi64(lo, hi, s[t]));
            hi = _mm512_or_si512(hi, _mm512_srlv_epi64(hi, s[t]));
        }
        if (nsteps > 0) lo = _mm512_or_si512(lo, _mm512_shrdv_epi64(lo, hi, s[nsteps - 1]));
        _mm512_storeu_si512(d + y, lo);
    }
    dilate_word_rows(d, prev, cur, next, y, rows, anchor, steps, nsteps);
}
#endif

// Row-wise max over the window [x - anchor, x - anchor + k - 1] (OpenCV's anchor is k/2; 0 <= anchor < k)
// of the view (or of its complement), into s.wide. The rows are first shifted right by the anchor into
// columns wide enough to keep every bit, so windows hanging over either edge see only zeros there;
// doubling then widens the window 1, 2, 4, ... up to k, one pass over the columns per step. Each column
// of s.wide holds `anchor` zero words above its rows and k - anchor below, which the column pass needs.
inline void dilate_rows(const BitView& v, int k, int anchor, bool complement, MorphScratch& s) {
    const int n = v.words, rows = v.rows, wide = (v.width + k + 63) / 64, total = rows + k;
    s.wide.resize(column_stride(total) * wide);
    if (int(s.zero.size()) < rows) s.zero.assign(rows, 0);  // a column of zeros, only read
    auto W = [&](int j) { return s.wide_col(j, total) + anchor; };
    for (int j = 0; j < n; ++j) {
        std::fill(W(j) - anchor, W(j), 0);
        std::fill(W(j) + rows, W(j) - anchor + total, 0);
    }
    auto in = [&](int j) -> ColumnRead {
        if (j < 0 || j >= n) return {s.zero.data(), 0, 0};
        return {v.col(j), complement ? ~uint64_t(0) : 0, j == n - 1 ? tail_mask(v.width) : ~uint64_t(0)};
    };
    if (k <= 64) {  // the common case, in one pass (the columns past the row's end are never read)
        int steps[8];
        const int nsteps = doubling_steps(k, steps);
#ifdef ICHBENCH_X86_DISPATCH
        static const bool vbmi2 = uses_isa("avx512vbmi2");
        if (vbmi2) {
            for (int j = 0; j < n; ++j)
                dilate_word_column_vbmi2(W(j), in(j - 1), in(j), in(j + 1), rows, anchor, steps, nsteps);
            return;
        }
#endif
        for (int j = 0; j < n; ++j) dilate_word_column(W(j), in(j - 1), in(j), in(j + 1), rows, anchor, steps, nsteps);
        return;
    }
    auto w = [&](int j) -> const uint64_t* { return j < wide ? W(j) : s.zero.data(); };
    for (int j = 0; j < wide; ++j) set_shl(W(j), in(j - anchor / 64), in(j - anchor / 64 - 1), anchor % 64, rows);
    int steps[32];
    for (int t = 0, nsteps = doubling_steps(k, steps); t < nsteps; ++t) {
        // W(x) |= W(x + len), ascending so every read is of a column not yet widened
        const int ws = steps[t] / 64, bs = steps[t] % 64;
        for (int j = 0; j < wide; ++j) {
            if (ws == 0 && bs != 0)
                or_shr_self(W(j), w(j + 1), bs, rows);
            else
                or_shr(W(j), w(j + ws), w(j + ws + 1), bs, rows);
        }
    }
}

// d(y) = ((a(y) | a(y + off)) ^ flip) & keep for the n rows of a view column: the last doubling step,
// written straight to the view (complemented again for an erosion).
ICHBENCH_HOT inline void or_ahead_out(uint64_t* __restrict d, const uint64_t* __restrict a, int off, int n,
                                      uint64_t flip, uint64_t keep) {
    for (int y = 0; y < n; ++y) d[y] = ((a[y] | a[y + off]) ^ flip) & keep;
}

// Column-wise max over rows [y - anchor, y - anchor + k - 1] of s.wide's first columns, one word column
// at a time, the last step written back to the view; the anchor is in the zero padding dilate_rows left.
inline void dilate_cols(const BitView& v, int k, bool complement, MorphScratch& s) {
    const int rows = v.rows, total = rows + k;
    int steps[32];
    const int nsteps = doubling_steps(k, steps);
    s.ping.resize(total);
    s.pong.resize(total);
    for (int i = 0; i < v.words; ++i) {
        const uint64_t* p = s.wide_col(i, total);
        uint64_t* t = s.ping.data();
        uint64_t* u = s.pong.data();
        for (int j = 0; j + 1 < nsteps; ++j) {  // p(y) covers one more stretch of steps[j] rows below it
            or_ahead(t, p, steps[j], total);
            p = t;
            std::swap(t, u);
        }
        const uint64_t flip = complement ? ~uint64_t(0) : 0, keep = i == v.words - 1 ? tail_mask(v.width) : ~uint64_t(0);
        or_ahead_out(v.col(i), p, steps[nsteps - 1], rows, flip, keep);
    }
}

// A k x k dilation, or with `complement` an erosion: the dilation of the complement, complemented. The
// outside, neutral (1) for erosion, becomes 0 in the complement, which is neutral for dilation.
inline void dilate(const BitView& v, int k, int anchor, MorphScratch& s, bool complement = false) {
    if (k <= 1) return;
    dilate_rows(v, k, anchor, complement, s);
    dilate_cols(v, k, complement, s);
}

inline void erode(const BitView& v, int k, int anchor, MorphScratch& s) { dilate(v, k, anchor, s, true); }

// The first and last row holding foreground, or (-1, -1) for an empty image.
inline std::pair<int, int> foreground_rows(const BitImage& img) {
    int first = img.height, last = -1;
    for (int i = 0; i < img.words; ++i) {
        const uint64_t* c = img.col(i);
        for (int y = 0; y < first; ++y)
            if (c[y]) {
                first = y;
                break;
            }
        for (int y = img.height - 1; y > last; --y)
            if (c[y]) {
                last = y;
                break;
            }
    }
    return last < 0 ? std::make_pair(-1, -1) : std::make_pair(first, last);
}

// Close then open, restricted to the rows that hold foreground plus a margin wide enough that no
// structuring element reaches past the band (so the result equals the whole-image one); rows outside
// stay empty, as they would.
inline void morph_band(BitImage& img, int close_k, int open_k, MorphScratch& s) {
    if (close_k <= 1 && open_k <= 1) return;
    const auto [first, last] = foreground_rows(img);
    if (last < 0) return;
    const int margin = 3 * (close_k + open_k) + 2;
    const BitView band(img, std::max(0, first - margin), std::min(img.height, last + 1 + margin));
    const int c = close_k > 1 ? close_k : 0, o = open_k > 1 ? open_k : 0;
    dilate(band, c, c / 2, s);
    // Closing's erosion and opening's erosion as one: eroding by c and then by o is eroding by their sum,
    // length c + o - 1 with anchor c/2 + o/2 (borders included: the outside is neutral for both).
    erode(band, c && o ? c + o - 1 : c + o, c / 2 + o / 2, s);
    dilate(band, o, o / 2, s);
}

}  // namespace ichbench
