// pybind11 bindings of the lesion stage (lesion.hpp, brain.hpp): ichbench._post.label, components,
// filter_lesions and brain_mask.
// Arrays arrive already checked (dtype, rank, contiguity, matching shapes) by ichbench/post.py.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "brain.hpp"
#include "lesion.hpp"

namespace ichbench_lesion_bindings {

namespace py = pybind11;
using namespace ichbench;
using FloatArray = py::array_t<float, py::array::c_style>;
using ByteArray = py::array_t<uint8_t, py::array::c_style>;

inline void check_volume(const py::array& a, const char* name, int s, int h, int w) {
    if (a.ndim() != 3 || a.shape(0) != s || a.shape(1) != h || a.shape(2) != w)
        throw std::invalid_argument(std::string(name) + " must have the mask's shape (S, H, W)");
}

// The components of a mask: (labels (S, H, W) int32, count).
inline py::tuple py_label(const ByteArray& mask, bool across) {
    if (mask.ndim() != 3) throw std::invalid_argument("mask must have shape (S, H, W)");
    const int s = int(mask.shape(0)), h = int(mask.shape(1)), w = int(mask.shape(2));
    py::array_t<int32_t> out({s, h, w});
    int32_t* dst = out.mutable_data();
    int32_t count;
    {
        py::gil_scoped_release release;
        const Components c = find_components(mask.data(), s, h, w, across);
        std::fill(dst, dst + std::size_t(s) * h * w, 0);
        write_labels(c, h, w, dst);
        count = c.count;
    }
    return py::make_tuple(out, count);
}

// Per component: area, max probability, mean probability, first slice, last slice ((n, 5) float64).
inline py::array_t<double> py_components(const ByteArray& mask, const FloatArray& prob, bool across) {
    if (mask.ndim() != 3) throw std::invalid_argument("mask must have shape (S, H, W)");
    const int s = int(mask.shape(0)), h = int(mask.shape(1)), w = int(mask.shape(2));
    check_volume(prob, "prob", s, h, w);
    ComponentStats st;
    {
        py::gil_scoped_release release;
        st = component_stats(find_components(mask.data(), s, h, w, across), prob.data(), h, w);
    }
    const py::ssize_t n = py::ssize_t(st.area.size());
    py::array_t<double> out({n, py::ssize_t(5)});
    double* dst = out.mutable_data();
    for (py::ssize_t i = 0; i < n; ++i) {
        dst[5 * i] = double(st.area[i]);
        dst[5 * i + 1] = double(st.max_prob[i]);
        dst[5 * i + 2] = st.area[i] ? st.sum_prob[i] / double(st.area[i]) : 0.0;
        dst[5 * i + 3] = double(st.first_slice[i]);
        dst[5 * i + 4] = double(st.last_slice[i]);
    }
    return out;
}

// The mask with only the components the filter keeps.
inline py::array_t<uint8_t> py_filter_lesions(const ByteArray& mask, const FloatArray& prob, bool across, int64_t min_area,
                                       float min_max_prob, float min_mean_prob, int32_t keep_largest) {
    if (mask.ndim() != 3) throw std::invalid_argument("mask must have shape (S, H, W)");
    const int s = int(mask.shape(0)), h = int(mask.shape(1)), w = int(mask.shape(2));
    check_volume(prob, "prob", s, h, w);
    if (min_area < 0 || keep_largest < 0) throw std::invalid_argument("min_area and keep_largest must be >= 0");
    py::array_t<uint8_t> out({s, h, w});
    uint8_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        const Components c = find_components(mask.data(), s, h, w, across);
        const auto keep = kept_components(component_stats(c, prob.data(), h, w),
                                          LesionFilter{min_area, min_max_prob, min_mean_prob, keep_largest});
        std::fill(dst, dst + std::size_t(s) * h * w, uint8_t(0));
        write_kept(c, keep, h, w, dst);
    }
    return out;
}

// The brain mask of an (S, H, W) brain-window image (brain.hpp).
inline py::array_t<uint8_t> py_brain_mask(const ByteArray& image, int low, int high, int erode) {
    if (image.ndim() != 3) throw std::invalid_argument("image must have shape (S, H, W)");
    if (low < 0 || high > 255 || low > high) throw std::invalid_argument("need 0 <= low <= high <= 255");
    if (erode < 0) throw std::invalid_argument("erode must be >= 0");
    const int s = int(image.shape(0)), h = int(image.shape(1)), w = int(image.shape(2));
    py::array_t<uint8_t> out({s, h, w});
    uint8_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        brain_mask(image.data(), s, h, w, uint8_t(low), uint8_t(high), erode, dst);
    }
    return out;
}

inline void bind_lesions(py::module_& m) {
    m.def("label", &py_label, py::arg("mask").noconvert(), py::arg("across"));
    m.def("components", &py_components, py::arg("mask").noconvert(), py::arg("prob").noconvert(), py::arg("across"));
    m.def("filter_lesions", &py_filter_lesions, py::arg("mask").noconvert(), py::arg("prob").noconvert(),
          py::arg("across"), py::arg("min_area"), py::arg("min_max_prob"), py::arg("min_mean_prob"),
          py::arg("keep_largest"));
    m.def("brain_mask", &py_brain_mask, py::arg("image").noconvert(), py::arg("low"), py::arg("high"),
          py::arg("erode"));
}

}  // namespace ichbench_lesion_bindings
