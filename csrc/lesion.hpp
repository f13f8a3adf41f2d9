// The lesion stage: connected components of a binary mask, each with its size and the model's confidence
// in it, and the filters that drop components by them.
//
// Components are 8-connected within a slice and, for a scan, 26-connected across its slices, as the lesion
// metrics count them. They are found on runs (maximal horizontal stretches of marked pixels): a run joins
// every run of the row above (and, across slices, of the three nearest rows of the slice before) that
// touches it, edges or corners, through a union-find whose root is a component's smallest provisional
// label. Provisional labels follow the runs' raster order (slice, row, column), so a component's root is
// the label of its first voxel, and the final labels, 1..n in the order of those first voxels, are the ones
// OpenCV's connectedComponents (per slice) and scipy.ndimage.label (per scan) give.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace ichbench {

struct Run {
    int32_t z, y, x0, x1;  // [x0, x1) in row y of slice z
};

struct Components {
    std::vector<Run> runs;
    std::vector<int32_t> label;  // per run, the final label 1..count
    int32_t count = 0;
};

// The union-find's parent of a provisional label, with path halving.
inline int32_t root_of(std::vector<int32_t>& parent, int32_t a) {
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
}

inline void unite(std::vector<int32_t>& parent, int32_t a, int32_t b) {
    a = root_of(parent, a);
    b = root_of(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

// Join run r (provisional label r) with the runs [begin, end) of an earlier row that touch it.
inline void join_row(const std::vector<Run>& runs, std::vector<int32_t>& parent, int32_t r, int64_t begin,
                     int64_t end) {
    const Run& a = runs[r];
    for (int64_t k = begin; k < end; ++k) {
        const Run& b = runs[k];
        if (b.x0 > a.x1) break;  // runs of a row are in column order
        if (b.x1 >= a.x0) unite(parent, r, int32_t(k));
    }
}

// The components of an (s, h, w) mask (nonzero = marked); `across` joins the slices (26-connected).
inline Components find_components(const uint8_t* mask, int s, int h, int w, bool across) {
    Components c;
    std::vector<int64_t> row_begin(std::size_t(s) * h + 1, 0);
    for (int z = 0; z < s; ++z)
        for (int y = 0; y < h; ++y) {
            const uint8_t* row = mask + (std::size_t(z) * h + y) * w;
            for (int x = 0; x < w;) {
                if (!row[x]) {
                    ++x;
                    continue;
                }
                const int x0 = x;
                while (x < w && row[x]) ++x;
                c.runs.push_back({z, y, x0, x});
            }
            row_begin[std::size_t(z) * h + y + 1] = int64_t(c.runs.size());
        }
    std::vector<int32_t> parent(c.runs.size());
    std::iota(parent.begin(), parent.end(), 0);
    auto row_runs = [&](int z, int y) { return std::pair<int64_t, int64_t>{row_begin[std::size_t(z) * h + y], row_begin[std::size_t(z) * h + y + 1]}; };
    for (int32_t r = 0; r < int32_t(c.runs.size()); ++r) {
        const Run& a = c.runs[r];
        if (a.y > 0) {
            auto [b, e] = row_runs(a.z, a.y - 1);
            join_row(c.runs, parent, r, b, e);
        }
        if (across && a.z > 0)
            for (int y = std::max(0, a.y - 1); y <= std::min(h - 1, a.y + 1); ++y) {
                auto [b, e] = row_runs(a.z - 1, y);
                join_row(c.runs, parent, r, b, e);
            }
    }
    // Final labels in the order of each component's first voxel: the order its root first appears.
    std::vector<int32_t> final_of(c.runs.size(), 0);
    c.label.resize(c.runs.size());
    for (int32_t r = 0; r < int32_t(c.runs.size()); ++r) {
        const int32_t root = root_of(parent, r);
        if (!final_of[root]) final_of[root] = ++c.count;
        c.label[r] = final_of[root];
    }
    return c;
}

// Per component (label - 1): voxels, the largest and the summed probability, the first and last slice.
struct ComponentStats {
    std::vector<int64_t> area;
    std::vector<float> max_prob;
    std::vector<double> sum_prob;
    std::vector<int32_t> first_slice, last_slice;
};

inline ComponentStats component_stats(const Components& c, const float* prob, int h, int w) {
    ComponentStats st;
    st.area.assign(c.count, 0);
    st.max_prob.assign(c.count, -std::numeric_limits<float>::infinity());
    st.sum_prob.assign(c.count, 0.0);
    st.first_slice.assign(c.count, std::numeric_limits<int32_t>::max());
    st.last_slice.assign(c.count, -1);
    for (std::size_t r = 0; r < c.runs.size(); ++r) {
        const Run& a = c.runs[r];
        const int32_t i = c.label[r] - 1;
        st.area[i] += a.x1 - a.x0;
        st.first_slice[i] = std::min(st.first_slice[i], a.z);
        st.last_slice[i] = std::max(st.last_slice[i], a.z);
        if (!prob) continue;
        const float* p = prob + (std::size_t(a.z) * h + a.y) * w;
        for (int x = a.x0; x < a.x1; ++x) {
            st.max_prob[i] = std::max(st.max_prob[i], p[x]);
            st.sum_prob[i] += p[x];
        }
    }
    return st;
}

struct LesionFilter {
    int64_t min_area = 0;      // voxels
    float min_max_prob = 0.f;  // the component's largest probability
    float min_mean_prob = 0.f;
    int32_t keep_largest = 0;  // 0: every component that passes the rest
};

// Which components (label - 1) the filter keeps: those at or above every minimum, then of those the
// keep_largest largest (ties: the earlier label).
inline std::vector<uint8_t> kept_components(const ComponentStats& st, const LesionFilter& f) {
    const int32_t n = int32_t(st.area.size());
    std::vector<uint8_t> keep(n, 0);
    std::vector<int32_t> passed;
    for (int32_t i = 0; i < n; ++i) {
        const double mean = st.area[i] ? st.sum_prob[i] / double(st.area[i]) : 0.0;
        if (st.area[i] >= f.min_area && st.max_prob[i] >= f.min_max_prob && mean >= double(f.min_mean_prob))
            passed.push_back(i);
    }
    if (f.keep_largest > 0 && int32_t(passed.size()) > f.keep_largest) {
        std::stable_sort(passed.begin(), passed.end(), [&](int32_t a, int32_t b) { return st.area[a] > st.area[b]; });
        passed.resize(f.keep_largest);
    }
    for (int32_t i : passed) keep[i] = 1;
    return keep;
}

// Write the labels (int32, 0 = background) of the components into an (s, h, w) array, zeroed by the caller.
inline void write_labels(const Components& c, int h, int w, int32_t* out) {
    for (std::size_t r = 0; r < c.runs.size(); ++r) {
        const Run& a = c.runs[r];
        std::fill(out + (std::size_t(a.z) * h + a.y) * w + a.x0, out + (std::size_t(a.z) * h + a.y) * w + a.x1,
                  c.label[r]);
    }
}

// Write the kept components as 1 into an (s, h, w) mask, zeroed by the caller.
inline void write_kept(const Components& c, const std::vector<uint8_t>& keep, int h, int w, uint8_t* out) {
    for (std::size_t r = 0; r < c.runs.size(); ++r) {
        if (!keep[c.label[r] - 1]) continue;
        const Run& a = c.runs[r];
        std::fill(out + (std::size_t(a.z) * h + a.y) * w + a.x0, out + (std::size_t(a.z) * h + a.y) * w + a.x1,
                  uint8_t(1));
    }
}

}  // namespace ichbench
