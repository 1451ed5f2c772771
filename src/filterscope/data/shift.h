// Inputs a model was not trained for, made from the ones it was: covariate shifts of a dataset's
// images (same classes, changed appearance) and pure-noise images of the same shape. Seeded; the
// results are 8-bit images like every dataset's, so they pass through the same normalisation.
#pragma once
#include <string>
#include <vector>

#include "filterscope/data/dataset.h"

namespace filterscope {

/// "invert", "blur", "noise", "rotate", "contrast": the covariate shifts shifted_images knows.
const std::vector<std::string>& covariate_shift_names();
/// "uniform", "gaussian": the noise image sets noise_images knows.
const std::vector<std::string>& noise_set_names();

/// The images of `data` under one shift, labels and indices kept:
///   invert    255 - x;
///   blur      Gaussian blur, sigma 1.5 pixels (a 7x7 kernel, edges replicated);
///   noise     plus Gaussian noise of sd 0.25 x 255, clipped to [0, 255];
///   rotate    a quarter, half or three-quarter turn per image, drawn from the seed;
///   contrast  0.3 x (x - the image's mean) + its mean.
/// Throws Error naming the shift when it is unknown.
Dataset shifted_images(const Dataset& data, const std::string& shift, int64_t seed);

/// `count` images of `like`'s shape, not drawn from any class: "uniform" pixels in [0, 255], or
/// "gaussian" pixels with `like`'s per-channel mean and sd, clipped. Labels are 0, indices 0..count-1.
Dataset noise_images(const Dataset& like, const std::string& kind, int64_t count, int64_t seed);

}  // namespace filterscope
