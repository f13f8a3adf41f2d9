// Stitch overlapping window probabilities back into one slice.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

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

// out = sum_k weight * patch_k over the windows, times the reciprocal coverage.
inline void stitch_slice(const float* patches, const Layout& L, const float* weight, const float* recip,
                         float* out) {
    const std::size_t hw = std::size_t(L.height) * L.width, ps = std::size_t(L.h) * L.w;
    for (std::size_t i = 0; i < hw; ++i) out[i] = 0.0f;
    for (int k = 0; k < L.n; ++k) {
        const int r = int(L.corners[2 * k]), c = int(L.corners[2 * k + 1]);
        const float* p = patches + k * ps;
        for (int y = 0; y < L.h; ++y) {
            float* o = out + std::size_t(r + y) * L.width + c;
            const float* q = p + std::size_t(y) * L.w;
            if (weight == nullptr) {
                for (int x = 0; x < L.w; ++x) o[x] += q[x];
            } else {
                const float* g = weight + std::size_t(y) * L.w;
                for (int x = 0; x < L.w; ++x) o[x] += q[x] * g[x];
            }
        }
    }
    for (std::size_t i = 0; i < hw; ++i) out[i] *= recip[i];
}

}  // namespace ichbench
