// Threshold a probability map into a packed mask, then close and open it.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "hot.hpp"
#include "morph.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ichbench {

// One row of prob > threshold, packed 64 pixels per word into r[0], r[stride], ... (a BitImage's row y
// starts at col(0) + y with the image's column stride); NaN is never greater, so it is 0. Compares and movemask,
// 4 floats at a time (SSE2), 8 on CPUs with AVX2; AVX-512 compares 16 straight into a bit mask.
#ifdef ICHBENCH_X86_DISPATCH
__attribute__((target("avx2"))) inline void pack_row_avx2(const float* p, int w, float threshold, uint64_t* r,
                                                          int words, std::size_t stride) {
    const __m256 t = _mm256_set1_ps(threshold);
    for (int i = 0; i < words; ++i) {
        const int x0 = i * 64, end = (x0 + 64 < w) ? x0 + 64 : w;
        uint64_t word = 0;
        int x = x0;
        if (end - x0 == 64) {  // a full word: eight independent compares, unrolled
            for (int j = 0; j < 8; ++j) {
                const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + x0 + 8 * j), t, _CMP_GT_OQ));
                word |= uint64_t(unsigned(m)) << (8 * j);
            }
            r[i * stride] = word;
            continue;
        }
        for (; x + 8 <= end; x += 8) {
            const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + x), t, _CMP_GT_OQ));
            word |= uint64_t(unsigned(m)) << (x - x0);
        }
        for (; x < end; ++x) word |= uint64_t(p[x] > threshold) << (x - x0);
        r[i * stride] = word;
    }
}

// Several thresholds at once (one threshold is the T = 1 case): each 16-float block is loaded once and
// compared with every threshold, its 16-bit compare masks stored straight from the mask registers. A word
// whose largest value exceeds no threshold (most of a slice's background) is written as zeros without
// compares.
__attribute__((target("avx512f"))) inline void pack_row_multi_avx512(const float* p, int w, const float* thresholds,
                                                                    int T, uint64_t* const* r, int words,
                                                                    std::size_t stride) {
    float lowest = thresholds[0];
    for (int t = 1; t < T; ++t) lowest = thresholds[t] < lowest ? thresholds[t] : lowest;
    const __m512 low = _mm512_set1_ps(lowest), none = _mm512_set1_ps(-__builtin_inff());
    for (int i = 0; i < words; ++i) {
        const int x0 = i * 64, n = (x0 + 64 < w) ? 64 : w - x0;
        __mmask16 in[4];
        __m512 v[4];
        __m512 top = none;  // max(value, top) keeps top where the value is NaN, which is never greater
        for (int j = 0; j < 4; ++j) {
            in[j] = n - 16 * j >= 16 ? __mmask16(0xFFFF) : n > 16 * j ? __mmask16((1u << (n - 16 * j)) - 1) : 0;
            v[j] = _mm512_maskz_loadu_ps(in[j], p + x0 + 16 * j);
            top = _mm512_max_ps(_mm512_mask_mov_ps(none, in[j], v[j]), top);
        }
        if (!_mm512_cmp_ps_mask(top, low, _CMP_GT_OQ)) {
            for (int t = 0; t < T; ++t) r[t][i * stride] = 0;
            continue;
        }
        for (int t = 0; t < T; ++t) {
            const __m512 th = _mm512_set1_ps(thresholds[t]);
            // Four 16-bit stores, little-endian (block j at bit 16 j); volatile keeps the compiler from
            // joining them in general registers, which costs more than the stores.
            volatile __mmask16* word = reinterpret_cast<__mmask16*>(r[t] + i * stride);
            for (int j = 0; j < 4; ++j)  // lanes past the row's end were loaded as 0; in[j] keeps them out
                word[j] = _mm512_mask_cmp_ps_mask(in[j], v[j], th, _CMP_GT_OQ);
        }
    }
}
#endif

inline void pack_row_sse(const float* p, int w, float threshold, uint64_t* r, int words, std::size_t stride) {
    for (int i = 0; i < words; ++i) {
        const int x0 = i * 64;
        const int end = (x0 + 64 < w) ? x0 + 64 : w;
        uint64_t word = 0;
        int x = x0;
#if defined(__SSE2__)
        const __m128 t = _mm_set1_ps(threshold);
        for (; x + 4 <= end; x += 4) {
            const int m = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(p + x), t));
            word |= uint64_t(m) << (x - x0);
        }
#endif
        for (; x < end; ++x) word |= uint64_t(p[x] > threshold) << (x - x0);
        r[i * stride] = word;
    }
}

inline void pack_row(const float* p, int w, float threshold, uint64_t* r, int words, std::size_t stride) {
#ifdef ICHBENCH_X86_DISPATCH
    static const bool avx512 = uses_isa("avx512f"), avx2 = uses_isa("avx2");
    if (avx512) return pack_row_multi_avx512(p, w, &threshold, 1, &r, words, stride);
    if (avx2) return pack_row_avx2(p, w, threshold, r, words, stride);
#endif
    pack_row_sse(p, w, threshold, r, words, stride);
}

// Row y of a BitImage from prob > threshold.
inline void pack_row(const float* p, float threshold, BitImage& img, int y) {
    pack_row(p, img.width, threshold, img.col(0) + y, img.words, img.stride);
}

// Row y of every masks[t] from prob > thresholds[t]; rows is scratch for the T row pointers.
inline void pack_row_multi(const float* p, const float* thresholds, int T, BitImage* masks, int y,
                           std::vector<uint64_t*>& rows) {
#ifdef ICHBENCH_X86_DISPATCH
    static const bool avx512 = uses_isa("avx512f");
    if (avx512 && T > 0) {
        rows.resize(T);
        for (int t = 0; t < T; ++t) rows[t] = masks[t].col(0) + y;
        return pack_row_multi_avx512(p, masks[0].width, thresholds, T, rows.data(), masks[0].words,
                                     masks[0].stride);
    }
#endif
    for (int t = 0; t < T; ++t) pack_row(p, thresholds[t], masks[t], y);
}

// Row y of a BitImage from a 0/1 (any non-zero) byte mask: 16 bytes compared with zero at a time (SSE2).
inline void pack_bytes(const uint8_t* p, BitImage& img, int y) {
    const int w = img.width;
    for (int i = 0; i < img.words; ++i) {
        const int x0 = i * 64, end = (x0 + 64 < w) ? x0 + 64 : w;
        uint64_t word = 0;
        int x = x0;
#if defined(__SSE2__)
        const __m128i zero = _mm_setzero_si128();
        for (; x + 16 <= end; x += 16) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + x));
            const unsigned m = ~unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero))) & 0xFFFFu;
            word |= uint64_t(m) << (x - x0);
        }
#endif
        for (; x < end; ++x) word |= uint64_t(p[x] != 0) << (x - x0);
        img.col(i)[y] = word;
    }
}

// prob > threshold for a whole image.
inline void pack_threshold(const float* prob, float threshold, BitImage& img) {
    for (int y = 0; y < img.height; ++y) pack_row(prob + std::size_t(y) * img.width, threshold, img, y);
}

// Pixels x0 .. w - 1 of one word as bytes (0 or 1), eight at a time through a table.
inline void unpack_word(uint64_t word, uint8_t* o, int x0, int w) {
    static const auto table = [] {
        struct T { uint64_t v[256]; } t{};
        for (int b = 0; b < 256; ++b) {
            uint64_t v = 0;
            for (int j = 0; j < 8; ++j) v |= uint64_t((b >> j) & 1) << (8 * j);
            t.v[b] = v;
        }
        return t;
    }();
    for (int x = x0; x < w && x < x0 + 64; x += 8, word >>= 8) {
        const uint64_t v = table.v[word & 0xFF];
        if (x + 8 <= w)
            std::memcpy(o + x, &v, 8);  // little-endian byte order: pixel x first
        else
            for (int j = 0; x + j < w; ++j) o[x + j] = uint8_t((v >> (8 * j)) & 1);
    }
}

#ifdef ICHBENCH_X86_DISPATCH
// A full word as 64 bytes: each byte picks its source byte (shuffle), keeps its own bit, becomes 0 or 1.
__attribute__((target("avx2"))) inline void unpack_word_avx2(uint64_t word, uint8_t* o) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                                            3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201ULL));
    const __m256i one = _mm256_set1_epi8(1);
    for (int half = 0; half < 2; ++half) {
        __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(int(uint32_t(word >> (32 * half)))), spread);
        v = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), one);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32 * half), v);
    }
}

__attribute__((target("avx2"))) inline void unpack_avx2(const BitImage& img, uint8_t* out) {
    const int w = img.width, full = w / 64;
    for (int y = 0; y < img.height; ++y) {
        uint8_t* o = out + std::size_t(y) * w;
        for (int i = 0; i < full; ++i) unpack_word_avx2(img.col(i)[y], o + 64 * i);
        if (full < img.words) unpack_word(img.col(full)[y], o, 64 * full, w);
    }
}
#endif

// One byte per pixel (0 or 1).
inline void unpack(const BitImage& img, uint8_t* out) {
#ifdef ICHBENCH_X86_DISPATCH
    static const bool avx2 = uses_isa("avx2");
    if (avx2) return unpack_avx2(img, out);
#endif
    for (int y = 0; y < img.height; ++y)
        for (int i = 0; i < img.words; ++i) unpack_word(img.col(i)[y], out + std::size_t(y) * img.width, 64 * i, img.width);
}

// The paper's post-processing for one slice; close/open of 0 skip that step.
inline void binarize_slice(const float* prob, int h, int w, float threshold, int close_k, int open_k,
                           uint8_t* out, MorphScratch& s, BitImage& img) {
    if (img.height != h || img.width != w) img = BitImage(h, w);
    pack_threshold(prob, threshold, img);
    morph_band(img, close_k, open_k, s);
    unpack(img, out);
}

}  // namespace ichbench
