// The brain mask of the lesion stage, per slice of a brain-window image: the pixels whose intensity lies in
// [low, high], of those the largest 8-connected component (ties: the first in raster order), its holes
// filled (background not 4-connected to the image border), then eroded by a (2n+1) x (2n+1) square with
// OpenCV's default border (pixels outside the image do not erode). The steps are scipy.ndimage.label
// (8-connected), binary_fill_holes and cv2.erode, bit for bit (tests/test_brain_mask.py).
//
// In the brain window (level 40, width 120) the skull saturates at 255, so `high` below 255 separates the
// brain from the scalp: the brain is the largest soft-tissue region inside the skull's ring.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "lesion.hpp"

namespace ichbench {

// Keep the largest component of a one-slice mask (in place).
inline void keep_largest_component(uint8_t* m, int h, int w) {
    const Components c = find_components(m, 1, h, w, false);
    std::fill(m, m + std::size_t(h) * w, uint8_t(0));
    if (!c.count) return;
    std::vector<int64_t> area(c.count, 0);
    for (std::size_t r = 0; r < c.runs.size(); ++r) area[c.label[r] - 1] += c.runs[r].x1 - c.runs[r].x0;
    std::vector<uint8_t> keep(c.count, 0);
    keep[std::max_element(area.begin(), area.end()) - area.begin()] = 1;  // the first of equal areas
    write_kept(c, keep, h, w, m);
}

// Fill the holes of a one-slice mask (in place): background pixels that no 4-connected path of background
// joins to the image border.
inline void fill_holes(uint8_t* m, int h, int w) {
    std::vector<uint8_t> outside(std::size_t(h) * w, 0);
    std::vector<int32_t> stack;
    auto push = [&](int y, int x) {
        const std::size_t i = std::size_t(y) * w + x;
        if (!m[i] && !outside[i]) {
            outside[i] = 1;
            stack.push_back(int32_t(i));
        }
    };
    for (int x = 0; x < w; ++x) push(0, x), push(h - 1, x);
    for (int y = 0; y < h; ++y) push(y, 0), push(y, w - 1);
    while (!stack.empty()) {
        const int32_t i = stack.back();
        stack.pop_back();
        const int y = i / w, x = i % w;
        if (y > 0) push(y - 1, x);
        if (y + 1 < h) push(y + 1, x);
        if (x > 0) push(y, x - 1);
        if (x + 1 < w) push(y, x + 1);
    }
    for (std::size_t i = 0; i < outside.size(); ++i) m[i] = !outside[i];
}

// Erode a 0/1 line of n values (stride apart) by radius r: a value stays 1 only if every value within r
// is 1; positions outside the line count as 1 (OpenCV's default border for erosion).
inline void erode_line(uint8_t* v, int n, std::ptrdiff_t stride, int r, std::vector<int32_t>& zeros) {
    zeros.assign(std::size_t(n) + 1, 0);  // prefix counts of zeros
    for (int i = 0; i < n; ++i) zeros[i + 1] = zeros[i] + (v[i * stride] == 0);
    for (int i = 0; i < n; ++i) {
        const int a = std::max(0, i - r), b = std::min(n, i + r + 1);
        v[i * stride] = zeros[b] == zeros[a];
    }
}

// Erode a one-slice mask by a (2r+1) square, separably: rows, then columns (a square is their product).
inline void erode_square(uint8_t* m, int h, int w, int r) {
    if (r <= 0) return;
    std::vector<int32_t> zeros;
    for (int y = 0; y < h; ++y) erode_line(m + std::size_t(y) * w, w, 1, r, zeros);
    for (int x = 0; x < w; ++x) erode_line(m + x, h, w, r, zeros);
}

// The brain mask of an (s, h, w) brain-window image into `out` (0/1), slice by slice.
inline void brain_mask(const uint8_t* image, int s, int h, int w, uint8_t low, uint8_t high, int erode,
                       uint8_t* out) {
    const std::size_t plane = std::size_t(h) * w;
    for (int z = 0; z < s; ++z) {
        const uint8_t* src = image + z * plane;
        uint8_t* m = out + z * plane;
        for (std::size_t i = 0; i < plane; ++i) m[i] = src[i] >= low && src[i] <= high;
        keep_largest_component(m, h, w);
        fill_holes(m, h, w);
        erode_square(m, h, w, erode);
    }
}

}  // namespace ichbench
