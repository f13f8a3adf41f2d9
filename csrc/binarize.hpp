// Threshold a probability map into a packed mask, then close and open it.
#pragma once

#include <cstdint>
#include <cstring>

#include "morph.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Hot loops get an AVX2 clone, chosen at load time on CPUs that have it (GCC and Clang on x86-64);
// the default clone keeps the module portable.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define ICHBENCH_HOT __attribute__((target_clones("avx2", "default")))
#else
#define ICHBENCH_HOT
#endif

namespace ichbench {

// One row of prob > threshold, packed 64 pixels per word (NaN is never greater, so it is 0): compares and
// movemask, 4 floats at a time (SSE2), 8 in the AVX2 clone.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
__attribute__((target("avx2"))) inline void pack_row_avx2(const float* p, int w, float threshold, uint64_t* r,
                                                          int words) {
    const __m256 t = _mm256_set1_ps(threshold);
    for (int i = 0; i < words; ++i) {
        const int x0 = i * 64, end = (x0 + 64 < w) ? x0 + 64 : w;
        uint64_t word = 0;
        int x = x0;
        for (; x + 8 <= end; x += 8) {
            const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + x), t, _CMP_GT_OQ));
            word |= uint64_t(unsigned(m)) << (x - x0);
        }
        for (; x < end; ++x) word |= uint64_t(p[x] > threshold) << (x - x0);
        r[i] = word;
    }
}
#define ICHBENCH_HAVE_AVX2_CLONE 1
#endif

inline void pack_row_sse(const float* p, int w, float threshold, uint64_t* r, int words) {
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
        r[i] = word;
    }
}

inline void pack_row(const float* p, int w, float threshold, uint64_t* r, int words) {
#ifdef ICHBENCH_HAVE_AVX2_CLONE
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return pack_row_avx2(p, w, threshold, r, words);
#endif
    pack_row_sse(p, w, threshold, r, words);
}

// One row of a 0/1 (any non-zero) byte mask, packed: 16 bytes compared with zero at a time (SSE2).
inline void pack_bytes(const uint8_t* p, int w, uint64_t* r, int words) {
    for (int i = 0; i < words; ++i) {
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
        r[i] = word;
    }
}

// prob > threshold for a whole image.
inline void pack_threshold(const float* prob, float threshold, BitImage& img) {
    for (int y = 0; y < img.height; ++y) pack_row(prob + std::size_t(y) * img.width, img.width, threshold, img.row(y), img.words);
}

// One byte per pixel (0 or 1), eight pixels at a time through a table.
inline void unpack(const BitImage& img, uint8_t* out) {
    static const auto table = [] {
        struct T { uint64_t v[256]; } t{};
        for (int b = 0; b < 256; ++b) {
            uint64_t v = 0;
            for (int j = 0; j < 8; ++j) v |= uint64_t((b >> j) & 1) << (8 * j);
            t.v[b] = v;
        }
        return t;
    }();
    const int w = img.width;
    for (int y = 0; y < img.height; ++y) {
        const uint64_t* r = img.row(y);
        uint8_t* o = out + std::size_t(y) * w;
        int x = 0;
        for (int i = 0; i < img.words; ++i) {
            uint64_t word = r[i];
            for (int byte = 0; byte < 8 && x < w; ++byte, word >>= 8) {
                const uint64_t v = table.v[word & 0xFF];
                if (x + 8 <= w) {
                    std::memcpy(o + x, &v, 8);  // little-endian byte order: pixel x first
                    x += 8;
                } else {
                    for (int j = 0; x < w; ++j, ++x) o[x] = uint8_t((v >> (8 * j)) & 1);
                }
            }
        }
    }
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
