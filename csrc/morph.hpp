// Binary morphology with rectangular kernels on bit-packed masks, matching
// OpenCV's dilate/erode/morphologyEx (anchor at k/2, outside of the image neutral).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ichbench {

// A binary image packed 64 pixels per word, one row after another; bits past the
// last column are always zero so that shifts never invent foreground.
struct BitImage {
    int height = 0;
    int width = 0;
    int words = 0;  // words per row
    std::vector<uint64_t> bits;

    BitImage(int h, int w) : height(h), width(w), words((w + 63) / 64), bits(std::size_t(h) * words, 0) {}
    uint64_t* row(int y) { return bits.data() + std::size_t(y) * words; }
    const uint64_t* row(int y) const { return bits.data() + std::size_t(y) * words; }
    uint64_t tail_mask() const { return (width % 64) ? ((uint64_t(1) << (width % 64)) - 1) : ~uint64_t(0); }
};

// out bit x = in bit (x + s), zeros shifted in from the right end.
inline void shift_down(const uint64_t* in, uint64_t* out, int words, int s) {
    const int ws = s / 64, bs = s % 64;
    for (int i = 0; i < words; ++i) {
        const int j = i + ws;
        uint64_t lo = j < words ? in[j] : 0;
        uint64_t hi = (j + 1) < words ? in[j + 1] : 0;
        out[i] = bs ? (lo >> bs) | (hi << (64 - bs)) : lo;
    }
}

// out bit x = in bit (x - s), zeros shifted in from the left end.
inline void shift_up(const uint64_t* in, uint64_t* out, int words, int s) {
    const int ws = s / 64, bs = s % 64;
    for (int i = words - 1; i >= 0; --i) {
        const int j = i - ws;
        uint64_t hi = j >= 0 ? in[j] : 0;
        uint64_t lo = (j - 1) >= 0 ? in[j - 1] : 0;
        out[i] = bs ? (hi << bs) | (lo >> (64 - bs)) : hi;
    }
}

// Row-wise max over the window [x - k/2, x - k/2 + k - 1] (OpenCV's anchor).
// The row is first shifted right by the anchor into a buffer wide enough to keep
// every bit, so that windows hanging over either edge see only zeros there.
inline void dilate_rows(BitImage& img, int k, std::vector<uint64_t>& a, std::vector<uint64_t>& b) {
    const int n = img.words, anchor = k / 2, wide = (img.width + k + 63) / 64;
    a.resize(wide);
    b.resize(wide);
    for (int y = 0; y < img.height; ++y) {
        uint64_t* r = img.row(y);
        for (int i = 0; i < wide; ++i) a[i] = i < n ? r[i] : 0;
        shift_up(a.data(), b.data(), wide, anchor);  // b(x) = row(x - anchor)
        // Doubling: after the loop b(x) covers [x, x + len - 1] of the shifted row.
        int len = 1;
        while (2 * len <= k) {
            shift_down(b.data(), a.data(), wide, len);
            for (int i = 0; i < wide; ++i) b[i] |= a[i];
            len *= 2;
        }
        if (len < k) {
            shift_down(b.data(), a.data(), wide, k - len);
            for (int i = 0; i < wide; ++i) b[i] |= a[i];
        }
        for (int i = 0; i < n; ++i) r[i] = b[i];
        r[n - 1] &= img.tail_mask();
    }
}

// The same for k <= 64, where every shift is shorter than a word: one guard word on each side of the
// row buffer replaces the bounds checks, and each doubling step is one in-place pass (ascending, so
// b[i + 1] is read before it is updated).
inline void dilate_rows_short(BitImage& img, int k, std::vector<uint64_t>& a, std::vector<uint64_t>& b) {
    const int n = img.words, anchor = k / 2, wide = (img.width + k + 63) / 64;
    a.assign(wide + 2, 0);
    b.assign(wide + 2, 0);
    uint64_t* A = a.data() + 1;  // A[-1] and A[wide] stay zero
    uint64_t* B = b.data() + 1;
    for (int y = 0; y < img.height; ++y) {
        uint64_t* r = img.row(y);
        for (int i = 0; i < n; ++i) A[i] = r[i];
        for (int i = 0; i < wide; ++i) B[i] = (A[i] << anchor) | (A[i - 1] >> (64 - anchor));  // row(x - anchor)
        int len = 1;
        while (2 * len <= k) {
            for (int i = 0; i < wide; ++i) B[i] |= (B[i] >> len) | (B[i + 1] << (64 - len));
            len *= 2;
        }
        if (len < k) {
            const int s = k - len;
            for (int i = 0; i < wide; ++i) B[i] |= (B[i] >> s) | (B[i + 1] << (64 - s));
        }
        for (int i = 0; i < n; ++i) r[i] = B[i];
        r[n - 1] &= img.tail_mask();
    }
}

// Column-wise max over rows [y - k/2, y - k/2 + k - 1], via a zero-padded copy.
inline void dilate_cols(BitImage& img, int k, std::vector<uint64_t>& pad) {
    const int n = img.words, anchor = k / 2, rows = img.height + k;
    pad.resize(std::size_t(rows) * n);
    std::fill(pad.begin(), pad.begin() + std::size_t(anchor) * n, 0);
    std::fill(pad.begin() + std::size_t(img.height + anchor) * n, pad.end(), 0);
    for (int y = 0; y < img.height; ++y) {
        const uint64_t* src = img.row(y);
        uint64_t* dst = pad.data() + std::size_t(y + anchor) * n;
        for (int i = 0; i < n; ++i) dst[i] = src[i];
    }
    int len = 1;
    auto or_ahead = [&](int off) {
        for (int y = 0; y + off < rows; ++y) {
            uint64_t* d = pad.data() + std::size_t(y) * n;
            const uint64_t* s = d + std::size_t(off) * n;
            for (int i = 0; i < n; ++i) d[i] |= s[i];
        }
    };
    while (2 * len <= k) {
        or_ahead(len);
        len *= 2;
    }
    if (len < k) or_ahead(k - len);
    for (int y = 0; y < img.height; ++y) {
        const uint64_t* src = pad.data() + std::size_t(y) * n;
        uint64_t* dst = img.row(y);
        for (int i = 0; i < n; ++i) dst[i] = src[i];
    }
}

// Scratch buffers reused across calls by one thread.
struct MorphScratch {
    std::vector<uint64_t> a, b, pad;
    BitImage band{0, 0};
};

inline void invert(BitImage& img) {
    const uint64_t tail = img.tail_mask();
    for (int y = 0; y < img.height; ++y) {
        uint64_t* r = img.row(y);
        for (int i = 0; i < img.words; ++i) r[i] = ~r[i];
        r[img.words - 1] &= tail;
    }
}

inline void dilate(BitImage& img, int k, MorphScratch& s) {
    if (k <= 1) return;
    if (k <= 64) {
        dilate_rows_short(img, k, s.a, s.b);
    } else {
        dilate_rows(img, k, s.a, s.b);
    }
    dilate_cols(img, k, s.pad);
}

// Erosion is dilation of the complement: the outside, neutral (1) for erosion,
// becomes 0 in the complement, which is neutral for dilation.
inline void erode(BitImage& img, int k, MorphScratch& s) {
    if (k <= 1) return;
    invert(img);
    dilate(img, k, s);
    invert(img);
}

inline void close(BitImage& img, int k, MorphScratch& s) {
    dilate(img, k, s);
    erode(img, k, s);
}

inline void open(BitImage& img, int k, MorphScratch& s) {
    erode(img, k, s);
    dilate(img, k, s);
}

// Close then open, restricted to the rows that hold foreground plus a margin wide enough that no
// structuring element reaches past the band (so the result equals the whole-image one); rows outside
// stay empty, as they would.
inline void morph_band(BitImage& img, int close_k, int open_k, MorphScratch& s) {
    BitImage& band = s.band;
    if (close_k <= 1 && open_k <= 1) return;
    int first = -1, last = -1;
    for (int y = 0; y < img.height; ++y) {
        const uint64_t* r = img.row(y);
        for (int i = 0; i < img.words; ++i)
            if (r[i]) {
                if (first < 0) first = y;
                last = y;
                break;
            }
    }
    if (first < 0) return;
    const int margin = 3 * (close_k + open_k) + 2;
    const int y0 = std::max(0, first - margin), y1 = std::min(img.height, last + 1 + margin);
    if (y0 == 0 && y1 == img.height) {
        if (close_k > 0) close(img, close_k, s);
        if (open_k > 0) open(img, open_k, s);
        return;
    }
    if (band.height != y1 - y0 || band.width != img.width) band = BitImage(y1 - y0, img.width);
    std::copy(img.row(y0), img.row(y0) + std::size_t(y1 - y0) * img.words, band.bits.begin());
    if (close_k > 0) close(band, close_k, s);
    if (open_k > 0) open(band, open_k, s);
    std::copy(band.bits.begin(), band.bits.end(), img.row(y0));
}

}  // namespace ichbench
