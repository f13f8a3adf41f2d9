// Stitch overlapping window probabilities back into one slice.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hot.hpp"

namespace ichbench {

struct Layout {
    const int64_t* corners;  // (n, 2) top-left (row, col)
    int n, h, w;             // window count and size
    int height, width;       // slice size
};

// nnU-Net/MONAI importance map: Gaussian with sigma = size / 8, peak 1, no zeros.
inline std::vector<float> gaussian_window(int h, int w) {
    std::vector<float> g(std::size_t(h) * w);
    const double sy = h / 8.0, sx = w / 8.0, cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
    float smallest = 1.0f;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const double dy = (y - cy) / sy, dx = (x - cx) / sx;
            const float v = float(std::exp(-0.5 * (dy * dy + dx * dx)));
            g[std::size_t(y) * w + x] = v;
            if (v > 0.0f && v < smallest) smallest = v;
        }
    for (float& v : g)
        if (v == 0.0f) v = smallest;  // underflow at the corners would leave pixels unweighted
    return g;
}

// 1 / (sum of window weights) per pixel; throws if a pixel is covered by no window.
inline std::vector<float> reciprocal_weights(const Layout& L, const float* weight) {
    const std::size_t hw = std::size_t(L.height) * L.width;
    std::vector<float> recip(hw, 0.0f);
    if (weight == nullptr) {
        // Integer coverage counts via a 2-D difference array: O(n + H*W).
        std::vector<int32_t> diff(std::size_t(L.height + 1) * (L.width + 1), 0);
        const int stride = L.width + 1;
        for (int k = 0; k < L.n; ++k) {
            const int r = int(L.corners[2 * k]), c = int(L.corners[2 * k + 1]);
            diff[std::size_t(r) * stride + c] += 1;
            diff[std::size_t(r) * stride + c + L.w] -= 1;
            diff[std::size_t(r + L.h) * stride + c] -= 1;
            diff[std::size_t(r + L.h) * stride + c + L.w] += 1;
        }
        std::vector<int32_t> above(L.width, 0);
        for (int y = 0; y < L.height; ++y) {
            int32_t run = 0;
            for (int x = 0; x < L.width; ++x) {
                run += diff[std::size_t(y) * stride + x];
                above[x] += run;
                recip[std::size_t(y) * L.width + x] = above[x] ? 1.0f / float(above[x]) : 0.0f;
            }
        }
    } else {
        std::vector<float> sum(hw, 0.0f);
        for (int k = 0; k < L.n; ++k) {
            const int r = int(L.corners[2 * k]), c = int(L.corners[2 * k + 1]);
            for (int y = 0; y < L.h; ++y) {
                float* o = sum.data() + std::size_t(r + y) * L.width + c;
                const float* g = weight + std::size_t(y) * L.w;
                for (int x = 0; x < L.w; ++x) o[x] += g[x];
            }
        }
        for (std::size_t i = 0; i < hw; ++i) recip[i] = sum[i] > 0.0f ? 1.0f / sum[i] : 0.0f;
    }
    for (std::size_t i = 0; i < hw; ++i)
        if (recip[i] == 0.0f)
            throw std::invalid_argument("pixel (" + std::to_string(i / L.width) + ", " +
                                        std::to_string(i % L.width) + ") is covered by no window");
    return recip;
}

// The reciprocal coverage with its repeated rows stored once (a grid's mean coverage has only a few
// distinct rows), so stitching reads a few kilobytes of it instead of a full float map per slice.
struct Coverage {
    const float* rows;     // (distinct rows, width)
    const int32_t* index;  // (height,): the distinct row of each output row
    int width;
    const float* row(int y) const { return rows + std::size_t(index[y]) * width; }
};

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

// Output row y: sum_k weight * patch_k over the windows covering it (added in window order), times the
// reciprocal coverage. The row stays in L1 while its windows are added, so the slice is written once.
ICHBENCH_HOT inline void stitch_row(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                                    const Coverage& C, int y, float* buf) {
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
    const float* rr = C.row(y);
    for (int x = 0; x < L.width; ++x) buf[x] *= rr[x];
}

// The stitched slice, row by row.
inline void stitch_slice(const float* patches, const Layout& L, const RowPlan& P, const float* weight,
                         const Coverage& C, float* out) {
    for (int y = 0; y < L.height; ++y) stitch_row(patches, L, P, weight, C, y, out + std::size_t(y) * L.width);
}

}  // namespace ichbench
