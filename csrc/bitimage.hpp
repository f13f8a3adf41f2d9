// Bit-packed binary images stored by word column, and views of their row bands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ichbench {

// The bits of a row's last word that hold pixels.
inline uint64_t tail_mask(int width) { return (width % 64) ? ((uint64_t(1) << (width % 64)) - 1) : ~uint64_t(0); }

// The words from one column's start to the next for columns of h words: whole cache lines, an odd number
// of them, so that the same row of consecutive columns falls in different L1 sets (640 rows, 80 lines,
// would put every fourth column in the same set and a row's stores conflict).
inline std::size_t column_stride(int h) { return std::size_t(((h + 7) / 8) | 1) * 8; }

// A binary image packed 64 pixels a word and stored by word column: word 0 of every row from top to
// bottom, then word 1, and so on. A pass along rows then combines whole columns of words and a pass
// along columns walks one contiguous run, so both are plain loops the compiler vectorises. Bits past
// the last pixel of a row, and the padding words between columns, are always zero, so that shifts
// never invent foreground and counts may run over every word.
struct BitImage {
    int height = 0;
    int width = 0;
    int words = 0;  // words per row
    std::size_t stride = 0;  // words from one column's start to the next
    std::vector<uint64_t> bits;

    BitImage(int h, int w)
        : height(h), width(w), words((w + 63) / 64), stride(column_stride(h)), bits(stride * words, 0) {}
    uint64_t* col(int i) { return bits.data() + std::size_t(i) * stride; }
    const uint64_t* col(int i) const { return bits.data() + std::size_t(i) * stride; }
};

// Rows [y0, y1) of a BitImage, treated as an image of their own (its outside is outside).
struct BitView {
    uint64_t* base;
    std::size_t stride;  // words from one column's start to the next
    int rows, words, width;

    BitView(BitImage& img, int y0, int y1)
        : base(img.bits.data() + y0), stride(img.stride), rows(y1 - y0), words(img.words), width(img.width) {}
    uint64_t* col(int i) const { return base + std::size_t(i) * stride; }
};

}  // namespace ichbench
