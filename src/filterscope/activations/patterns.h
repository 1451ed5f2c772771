// Class-wise activation patterns (Khaitan, sections 3-7): which neurons are significant for an
// image, how often each neuron is significant within each class, histograms of those frequencies,
// KL divergences between the classes' patterns, and the significant neuron-weight interactions of
// fully connected layers. Pure tensor functions and one streaming accumulator; the command that
// runs a model over datasets is activations.h.
//
// Readings of the paper's terse definitions, as implemented:
//  * A neuron is a unit of a 2-D output or a channel of a map; a channel's map becomes one value by
//    its spatial mean (--reduce mean, default) or maximum (--reduce max: "active anywhere").
//  * S1 (active): value > 0.
//  * S2 (signal above a gap): sort one image's positive values of a layer in descending order,
//    v(1) >= v(2) >= ... >= v(m) > 0. Ranks j with v(j) / v(j+1) > epsilon are gaps; the neurons at
//    or above the lowest gap (the largest such j) are significant, the rest are noise. No gap: no
//    neuron is significant. The step from the smallest positive value to zero is not a gap (every
//    ReLU layer would have one, and S2 would be S1).
//  * Interactions (section 6): for output i of a fully connected layer with weights W [O, I] and
//    input x, the terms t_ij = w_ij x_j. The paper's threshold "above an average proportion of the
//    final activation" is read on magnitudes, since the terms have both signs: significant when
//    |t_ij| / sum_j |t_ij| > 1 / I. An output whose terms are all zero has none.
//  * Divergences (section 7): a class's pattern becomes a distribution over the layer's neurons,
//    p = (f + s) / sum(f + s), from its frequencies f with smoothing s (default 1e-6) added to every
//    neuron so that a frequency of zero gives a finite divergence; KL(p || q) = sum p log(p / q).
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace filterscope {

/// How a channel's [H, W] map becomes one value.
enum class MapReduce { Mean, Max };
MapReduce parse_map_reduce(const std::string& name);  ///< "mean" or "max"; Error otherwise

/// One value per neuron: [N, C, H, W] -> [N, C] by the reduction, [N, U] as it is. float32.
at::Tensor neuron_values(const at::Tensor& output, MapReduce reduce);

/// S1: values [N, U] -> bool [N, U], value > 0.
at::Tensor significant_active(const at::Tensor& values);

/// S2 with ratio epsilon (> 1): values [N, U] -> bool [N, U] (see the file comment).
at::Tensor significant_above_gap(const at::Tensor& values, double epsilon);

/// Interactions: x [N, I] (the layer's input), weight [O, I] -> bool [N, O, I].
at::Tensor significant_interactions(const at::Tensor& x, const at::Tensor& weight);

/// Counts of significant units per class, accumulated batch by batch. The counts are a product of
/// the labels' one-hot matrix and the significance matrix (one BLAS call per batch); float32
/// holds them exactly up to 2^24 images per class.
class ClassCounts {
 public:
  ClassCounts() = default;
  /// shape: the per-sample shape of the significance tensors ([U] or [O, I]).
  ClassCounts(int64_t num_classes, std::vector<int64_t> shape);
  /// significant: [N, ...shape], bool or 0/1 float; labels: int64 [N] in [0, num_classes).
  void add(const at::Tensor& significant, const at::Tensor& labels);
  /// The interactions of x [N, I] with weight [O, I] (significant_interactions), counted without
  /// a boolean tensor in between.
  void add_interactions(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& labels);
  /// [K, ...shape] float64: the share of each class's images in which each unit is significant;
  /// rows of classes without images are NaN.
  at::Tensor frequencies() const;
  const at::Tensor& class_sizes() const { return sizes_; }  ///< int64 [K]
  bool defined() const { return counts_.defined(); }

 private:
  at::Tensor counts_;  // float32 [K, ...shape]
  at::Tensor sizes_;   // int64 [K]
};

/// Histograms of frequencies [K, ...] in `bins` equal bins over [0, 1] (the last bin holds 1.0,
/// as numpy.histogram): int64 [K, bins], units per bin. NaN rows count nothing.
at::Tensor frequency_histograms(const at::Tensor& frequencies, int64_t bins = 100);

/// KL(p_i || q_j) for every row i of p_freq [K1, U] and row j of q_freq [K2, U]: float64 [K1, K2],
/// each row first smoothed and normalised to a distribution (see the file comment). NaN where
/// either row is NaN (a class without images).
at::Tensor kl_divergences(const at::Tensor& p_freq, const at::Tensor& q_freq, double smoothing);

}  // namespace filterscope
