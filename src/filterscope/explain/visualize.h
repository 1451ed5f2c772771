// What filters learn (Dai, section 2): activation maximisation with the paper's regularisers and
// a Fourier parameterisation, pixel fooling towards another class, Grad-CAM, the images that most
// activate a channel, and what a network says about images of classes it never saw. Pure
// computations on a ProbedModel; `filterscope visualize` (apps/) writes their files.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/data/dataset.h"
#include "filterscope/explain/objective.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

struct MaximiseOptions {
  std::string start = "noise";     ///< noise (the dataset's mean and sd) or images (the set's first images)
  std::string optimizer = "adam";  ///< adam or sgd
  double lr = 0.05;                ///< on pixels in [0, 1] (on the spectrum with --fourier)
  int64_t steps = 256;
  int64_t seed = 0;
  int64_t seeds = 1;               ///< each objective is optimised from this many starts (seed, seed + 1, ...)
  double alpha_weight = 0;         ///< weight of the alpha-norm of the mean-subtracted image; 0 = off
  double alpha = 6;
  double tv_weight = 0;            ///< weight of total variation; 0 = off
  double tv_beta = 2;
  double grad_blur = 0;            ///< the paper's trick: blur the gradient by a Gaussian of sd up to this (pixels); 0 = off
  int64_t grad_translate = 0;      ///< ... shift it by up to this many pixels; 0 = off
  double grad_rotate = 0;          ///< ... rotate it by up to this many degrees; 0 = off
  bool fourier = false;            ///< optimise a decorrelated Fourier spectrum instead of the pixels

  static const ParamTable<MaximiseOptions>& params();
};

struct MaximiseResult {
  at::Tensor start, images;             ///< [M, C, H, W] pixels in [0, 1]
  std::vector<int64_t> objective, seed;  ///< of each image
  std::vector<double> before, after;    ///< the objective's value at the start and the end
  std::vector<int64_t> prediction_before, prediction_after;
};

/// Optimises every objective from `seeds` starts at once (one batch). start_images: the images
/// for --start images (at least objectives x seeds of them).
MaximiseResult maximise(ProbedModel& model, const std::vector<Objective>& objectives, const InputTransform& transform,
                        const Dataset& start_images, const MaximiseOptions& options);

struct FoolOptions {
  std::string pair = "";     ///< FROM:TO classes (numbers or names); "" = no fooling
  int64_t images = 16;       ///< images of FROM (from the set, in order)
  double lr = 0.01;          ///< gradient ascent step: the largest change of a pixel (in [0, 1]) per step
  int64_t max_steps = 500;

  static const ParamTable<FoolOptions>& params();
};

struct FoolResult {
  int64_t from = 0, to = 0;
  std::vector<int64_t> dataset_index, steps;  ///< steps until the prediction flipped to `to`; -1: never
  std::vector<double> distance;               ///< L2 distance (pixels in [0, 1]) of the fooled from the start image
  at::Tensor start, fooled;                   ///< [N, C, H, W]
  at::Tensor difference;                      ///< [N, H, W]: sqrt(sum_c (x_f - x_s)^2)
};

FoolResult fool(ProbedModel& model, const Dataset& data, const InputTransform& transform, int64_t from, int64_t to,
                const FoolOptions& options);

struct GradCamResult {
  std::string layer;
  at::Tensor cam;          ///< [N, h, w]: relu(sum_c alpha_c A_c), alpha_c the spatial mean of d y / d A_c
  at::Tensor upsampled;    ///< [N, H, W] bilinear to the input size, scaled to [0, 1] per image
  at::Tensor targets, predictions;  ///< int64 [N]
};

/// Grad-CAM of the images at `layer` (a probe point with maps) for `target` (-1: each image's
/// prediction), in batches.
GradCamResult grad_cam(ProbedModel& model, const Dataset& data, const InputTransform& transform, const std::string& layer,
                       int64_t target, int64_t batch_size);

struct TopImagesResult {
  std::string layer;
  std::vector<int64_t> channels;
  std::vector<std::vector<int64_t>> top;       ///< per channel: positions in the set, most activating first
  std::vector<std::vector<double>> top_values;
  std::vector<std::vector<int64_t>> histogram;  ///< per channel: images per bin of the channel's spatial mean
  std::vector<double> low, high;               ///< per channel: the histogram's range
};

TopImagesResult top_images(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                           const std::string& layer, const std::vector<int64_t>& channels, int64_t k, int64_t bins,
                           int64_t batch_size);

/// Shares of predictions: rows (image sets), columns (the model's classes).
struct PredictionShares {
  std::vector<std::string> rows;
  std::vector<int64_t> images;
  std::vector<std::vector<double>> shares;
};
PredictionShares prediction_shares(ProbedModel& model, const std::vector<std::pair<std::string, Dataset>>& sets,
                                   const InputTransform& transform, int64_t num_classes, int64_t batch_size);

/// The network input for pixels [N, C, H, W] in [0, 1]: normalised and resized as the transform says.
at::Tensor pixels_to_input(const at::Tensor& pixels, const InputTransform& transform);

/// The last probe point with maps among the model's convolutions and activations (Grad-CAM's and
/// the top images' default).
std::string last_map_layer(const ProbedModel& model);

}  // namespace filterscope
