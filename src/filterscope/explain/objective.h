// What activation maximisation and pixel fooling optimise: a weighted sum of terms, each a class's
// logit or softmax probability, the mean of a whole probe point, of one channel, or one unit.
//   logit:3    prob:Coat    layer:features.3    channel:features.3:17    unit:features.3:17:4:5
//   logit:3+0.5*channel:features.3:17    (unit:classifier.1:12 for a unit of a 2-D probe)
// Classes are numbers or the dataset's class names.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "filterscope/models/probed_model.h"

namespace filterscope {

struct ObjectiveTerm {
  enum class Kind { Logit, Prob, Layer, Channel, Unit };
  Kind kind = Kind::Logit;
  double weight = 1;
  std::string probe;     ///< Layer, Channel, Unit
  int64_t index = 0;     ///< the class (Logit, Prob) or the channel / unit (Channel, Unit)
  int64_t h = -1, w = -1;  ///< Unit of a map
};

struct Objective {
  std::string text;
  std::vector<ObjectiveTerm> terms;
  /// The class when the objective is one class's logit or probability with a positive weight.
  std::optional<int64_t> target_class() const;
  /// The probe points its terms read.
  std::vector<std::string> probes() const;
  bool needs_logits() const;
};

/// Parses `text` and checks it against the model: unknown probe points, channels, units outside
/// the map and unknown classes are one Error each, naming what exists.
Objective parse_objective(const std::string& text, ProbedModel& model, const std::vector<std::string>& class_names);

/// The objective's value for every image of a forward pass: [N], differentiable.
at::Tensor evaluate_objective(const Objective& objective, const ProbeOutputs& out);

}  // namespace filterscope
