// pybind11 bindings of the post-processing core: ichbench._post.
// Arrays arrive already checked (dtype, rank, contiguity) by ichbench/post.py;
// noconvert() makes sure no silent copy can happen if that layer is bypassed.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "binarize.hpp"
#include "fused.hpp"
#include "lesion_bindings.hpp"
#include "stitch.hpp"

namespace py = pybind11;
using namespace ichbench;

using FloatArray = py::array_t<float, py::array::c_style>;
using CornerArray = py::array_t<int64_t, py::array::c_style>;
using ByteArray = py::array_t<uint8_t, py::array::c_style>;
using IndexArray = py::array_t<int32_t, py::array::c_style>;

namespace {

// Runs fn(begin, end) over [0, n) on `threads` threads, each taking the next block of indices when it is
// done with its last, so that a thread slowed by something else on the machine does not hold the rest up
// (a fixed split waits for the slowest half).
template <typename Fn>
void parallel_for(int n, int threads, Fn fn) {
    threads = std::max(1, std::min(threads, n));
    if (threads == 1) {
        fn(0, n);
        return;
    }
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    std::atomic<int> next{0};
    const int block = std::max(1, n / (8 * threads));
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                for (int b = next.fetch_add(block); b < n; b = next.fetch_add(block)) fn(b, std::min(n, b + block));
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (auto& err : errors)
        if (err) std::rethrow_exception(err);
}

Layout make_layout(const CornerArray& corners, int h, int w, int height, int width) {
    if (corners.ndim() != 2 || corners.shape(1) != 2) throw std::invalid_argument("corners must have shape (N, 2)");
    if (h <= 0 || w <= 0 || height <= 0 || width <= 0) throw std::invalid_argument("sizes must be positive");
    Layout L{corners.data(), int(corners.shape(0)), h, w, height, width};
    for (int k = 0; k < L.n; ++k) {
        const int64_t r = L.corners[2 * k], c = L.corners[2 * k + 1];
        if (r < 0 || c < 0 || r + h > height || c + w > width)
            throw std::invalid_argument("window " + std::to_string(k) + " at (" + std::to_string(r) + ", " +
                                        std::to_string(c) + ") of size " + std::to_string(h) + "x" +
                                        std::to_string(w) + " lies outside the " + std::to_string(height) +
                                        "x" + std::to_string(width) + " image");
    }
    return L;
}

void check_kernels(int close_k, int open_k) {
    if (close_k < 0 || open_k < 0) throw std::invalid_argument("kernel sizes must be >= 0");
}

py::array_t<float> py_gaussian_window(int h, int w) {
    if (h <= 0 || w <= 0) throw std::invalid_argument("window size must be positive");
    auto g = gaussian_window(h, w);
    py::array_t<float> out({h, w});
    std::copy(g.begin(), g.end(), out.mutable_data());
    return out;
}

py::array_t<float> py_reciprocal_weights(const CornerArray& corners, int h, int w, int height, int width,
                                         std::optional<FloatArray> weight) {
    const Layout L = make_layout(corners, h, w, height, width);
    const float* wp = weight ? weight->data() : nullptr;
    std::vector<float> recip;
    {
        py::gil_scoped_release release;
        recip = reciprocal_weights(L, wp);
    }
    py::array_t<float> out({height, width});
    std::copy(recip.begin(), recip.end(), out.mutable_data());
    return out;
}

// The reciprocal coverage as distinct rows (U, W) and each output row's index into them (H,).
Coverage make_coverage(const FloatArray& rows, const IndexArray& index) {
    if (rows.ndim() != 2 || index.ndim() != 1) throw std::invalid_argument("coverage must be rows (U, W) and index (H,)");
    const int32_t* ix = index.data();
    for (py::ssize_t y = 0; y < index.shape(0); ++y)
        if (ix[y] < 0 || ix[y] >= rows.shape(0))
            throw std::invalid_argument("coverage index " + std::to_string(ix[y]) + " of row " + std::to_string(y) +
                                        " is outside its " + std::to_string(rows.shape(0)) + " rows");
    return {rows.data(), ix, int(rows.shape(1))};
}

// What every path from windows shares: the checked layout of (B, N, h, w) windows over the coverage.
struct WindowInputs {
    Layout L;
    Coverage C;
    const float* src;
    const float* weight;
    std::size_t step;  // floats per slice of windows
};

WindowInputs window_inputs(const FloatArray& patches, const CornerArray& corners, const FloatArray& rows,
                           const IndexArray& index, const std::optional<FloatArray>& weight) {
    if (patches.ndim() != 4) throw std::invalid_argument("patches must have shape (B, N, h, w)");
    const Coverage C = make_coverage(rows, index);
    const Layout L = make_layout(corners, int(patches.shape(2)), int(patches.shape(3)), int(index.shape(0)), C.width);
    if (patches.shape(1) != L.n)
        throw std::invalid_argument(std::to_string(patches.shape(1)) + " windows but " + std::to_string(L.n) +
                                    " corners");
    return {L, C, patches.data(), weight ? weight->data() : nullptr, std::size_t(L.n) * L.h * L.w};
}

// fn(slice index, its windows, row plan, scratch) for every slice, on `threads` threads, GIL released.
template <typename Fn>
void for_each_slice(const WindowInputs& in, int b, int threads, Fn fn) {
    py::gil_scoped_release release;
    const RowPlan plan = plan_rows(in.L);
    parallel_for(b, threads, [&](int lo, int hi) {
        // Kept per thread between calls: validation calls once per slice, and fresh masks and morphology
        // buffers (zeroed, about 0.5 MB for a 9-threshold curve of a 640 x 640 slice) would cost each call.
        static thread_local FusedScratch scratch;
        for (int i = lo; i < hi; ++i) fn(i, in.src + i * in.step, plan, scratch);
    });
}

py::array_t<float> py_stitch(const FloatArray& patches, const CornerArray& corners, const FloatArray& rows,
                             const IndexArray& index, std::optional<FloatArray> weight, int threads) {
    const WindowInputs in = window_inputs(patches, corners, rows, index, weight);
    const int b = int(patches.shape(0));
    py::array_t<float> out({b, in.L.height, in.L.width});
    float* dst = out.mutable_data();
    const std::size_t out_step = std::size_t(in.L.height) * in.L.width;
    for_each_slice(in, b, threads, [&](int i, const float* src, const RowPlan& plan, FusedScratch&) {
        stitch_slice(src, in.L, plan, in.weight, in.C, dst + i * out_step);
    });
    return out;
}

py::array_t<uint8_t> py_binarize(const FloatArray& prob, float threshold, int close_k, int open_k, int threads) {
    if (prob.ndim() != 3) throw std::invalid_argument("prob must have shape (B, H, W)");
    check_kernels(close_k, open_k);
    const int b = int(prob.shape(0)), height = int(prob.shape(1)), width = int(prob.shape(2));
    py::array_t<uint8_t> out({b, height, width});
    const float* src = prob.data();
    uint8_t* dst = out.mutable_data();
    const std::size_t step = std::size_t(height) * width;
    if (step == 0) return out;
    {
        py::gil_scoped_release release;
        parallel_for(b, threads, [&](int lo, int hi) {
            MorphScratch scratch;
            BitImage img(height, width);
            for (int i = lo; i < hi; ++i)
                binarize_slice(src + i * step, height, width, threshold, close_k, open_k, dst + i * step, scratch,
                               img);
        });
    }
    return out;
}

py::array_t<uint8_t> py_stitch_binarize(const FloatArray& patches, const CornerArray& corners, const FloatArray& rows,
                                        const IndexArray& index, std::optional<FloatArray> weight, float threshold,
                                        int close_k, int open_k, int threads) {
    check_kernels(close_k, open_k);
    const WindowInputs in = window_inputs(patches, corners, rows, index, weight);
    const int b = int(patches.shape(0));
    py::array_t<uint8_t> out({b, in.L.height, in.L.width});
    uint8_t* dst = out.mutable_data();
    const std::size_t out_step = std::size_t(in.L.height) * in.L.width;
    for_each_slice(in, b, threads, [&](int i, const float* src, const RowPlan& plan, FusedScratch& scratch) {
        stitch_binarize_slice(src, in.L, plan, in.weight, in.C, threshold, close_k, open_k, dst + i * out_step,
                              scratch);
    });
    return out;
}

py::array_t<int64_t> py_threshold_counts(const FloatArray& patches, const CornerArray& corners,
                                         const FloatArray& rows, const IndexArray& index,
                                         std::optional<FloatArray> weight, const ByteArray& truth,
                                         const FloatArray& thresholds, int close_k, int open_k, int threads) {
    check_kernels(close_k, open_k);
    const WindowInputs in = window_inputs(patches, corners, rows, index, weight);
    const int b = int(patches.shape(0)), t = int(thresholds.size());
    if (truth.ndim() != 3 || truth.shape(0) != b || truth.shape(1) != in.L.height || truth.shape(2) != in.L.width)
        throw std::invalid_argument("truth must have shape (B, H, W) matching the windows and the slice size");
    py::array_t<int64_t> out({b, t, 4});
    int64_t* dst = out.mutable_data();
    const uint8_t* gt = truth.data();
    const std::size_t gt_step = std::size_t(in.L.height) * in.L.width;
    for_each_slice(in, b, threads, [&](int i, const float* src, const RowPlan& plan, FusedScratch& scratch) {
        threshold_counts_slice(src, in.L, plan, in.weight, in.C, gt + i * gt_step, thresholds.data(), t, close_k,
                               open_k, dst + std::size_t(i) * t * 4, scratch);
    });
    return out;
}

}  // namespace

PYBIND11_MODULE(_post, m) {
    m.doc() = "ichbench post-processing core: stitching, thresholding, closing and opening, lesion components";
    m.def("gaussian_window", &py_gaussian_window, py::arg("h"), py::arg("w"));
    m.def("reciprocal_weights", &py_reciprocal_weights, py::arg("corners").noconvert(), py::arg("h"), py::arg("w"),
          py::arg("height"), py::arg("width"), py::arg("weight").noconvert() = py::none());
    m.def("stitch", &py_stitch, py::arg("patches").noconvert(), py::arg("corners").noconvert(),
          py::arg("rows").noconvert(), py::arg("index").noconvert(), py::arg("weight").noconvert() = py::none(), py::arg("threads") = 1);
    m.def("stitch_binarize", &py_stitch_binarize, py::arg("patches").noconvert(), py::arg("corners").noconvert(),
          py::arg("rows").noconvert(), py::arg("index").noconvert(), py::arg("weight").noconvert(), py::arg("threshold"), py::arg("close"),
          py::arg("open"), py::arg("threads") = 1);
    m.def("threshold_counts", &py_threshold_counts, py::arg("patches").noconvert(), py::arg("corners").noconvert(),
          py::arg("rows").noconvert(), py::arg("index").noconvert(), py::arg("weight").noconvert(), py::arg("truth").noconvert(),
          py::arg("thresholds").noconvert(), py::arg("close"), py::arg("open"), py::arg("threads") = 1);
    m.def("binarize", &py_binarize, py::arg("prob").noconvert(), py::arg("threshold"), py::arg("close"),
          py::arg("open"), py::arg("threads") = 1);
    ichbench_lesion_bindings::bind_lesions(m);
}
