// The front doors of `filterscope visualize` and `filterscope hierarchy`: run the computations of
// visualize.h and hierarchy.h on a model source and write their files (visualize.json or
// hierarchy.json and tree-CLASS.json, .npy arrays, PNG pictures). The records are what the
// commands print and the pages draw.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "filterscope/runs/model_passes.h"
#include "filterscope/explain/hierarchy.h"
#include "filterscope/explain/visualize.h"
#include "filterscope/runs/model_source.h"

namespace filterscope {

struct VisualizeOptions {
  std::string parts = "am,gradcam,top,oos";  ///< am, fool, gradcam, top, oos (fool is added when --fool is given)
  int64_t gradcam_images = 16;
  std::string gradcam_layer = "";  ///< "" = the last convolutional probe point
  int64_t gradcam_class = -1;      ///< -1 = each image's prediction
  std::string top_layer = "";      ///< "" = the last convolutional probe point
  std::string top_channels = "";   ///< comma-separated; "" = the first 8
  int64_t top_k = 9;
  int64_t noise_images = 200;      ///< out-of-sample: uniform noise images

  static const ParamTable<VisualizeOptions>& params();
};

struct VisualizeRequest {
  std::vector<std::string> objectives;  ///< "" entries not allowed; empty = one logit objective per class
  MaximiseOptions maximise;
  FoolOptions fool;
  VisualizeOptions visualize;
  EvalSetOptions set;
};

/// What `visualize` found, as written to visualize.json (format filterscope-visualize/1). Nothing
/// in filterscope reads it back: pandas and the page do.
struct VisualizeRecord {
  ModelRecord model;
  nlohmann::json settings;
  std::vector<std::string> class_names;
  std::optional<MaximiseResult> maximisation;
  std::vector<std::string> objectives;
  std::optional<double> class_success_rate;  ///< class objectives: share predicted as their class afterwards
  std::optional<FoolResult> fooling;
  std::optional<GradCamResult> gradcam;
  std::vector<int64_t> gradcam_dataset_index, gradcam_labels;
  std::optional<TopImagesResult> top;
  std::vector<std::vector<int64_t>> top_dataset_index;  ///< per channel
  std::optional<PredictionShares> out_of_sample;
  std::vector<std::string> notes;
  double seconds = 0;
  /// The pictures the page draws, [N, C, H, W] pixels in [0, 1] by name (not in the JSON; the
  /// same images are in the .npy and PNG files).
  std::vector<std::pair<std::string, at::Tensor>> pictures;

  nlohmann::json to_json() const;
};

VisualizeRecord run_visualize(ModelSource& source, const VisualizeRequest& request, const std::filesystem::path& out,
                              const std::function<void(const std::string&)>& log);

struct HierarchyOptions {
  std::string layer = "";       ///< "" = the last convolutional probe point
  int64_t noise_class = 0;      ///< uniform noise images added as a category "noise"; 0 = none
  std::string tree_class = "";  ///< the class of the prediction tree (number or name); "" = class 0
  std::string tree_layer = "";  ///< "" = --layer's
  int64_t tree_images = 32;     ///< images of the class in the tree
  int64_t top_k = 4;            ///< images shown per critical filter

  static const ParamTable<HierarchyOptions>& params();
};

struct HierarchyRequest {
  HierarchyOptions hierarchy;
  EvalSetOptions set;
};

struct HierarchyRecord {
  ModelRecord model;
  nlohmann::json settings;
  std::string layer, tree_layer;
  std::vector<std::string> labels;  ///< the categories (class names, and "noise")
  CategoryHierarchy hierarchy;
  int64_t tree_class = 0;
  PredictionTree tree;
  std::vector<int64_t> tree_images;  ///< dataset index of each leaf
  std::vector<std::pair<int64_t, std::vector<int64_t>>> critical_top_images;  ///< filter -> dataset indices
  std::vector<std::string> notes;
  double seconds = 0;
  std::vector<std::pair<std::string, at::Tensor>> pictures;  ///< as in VisualizeRecord

  nlohmann::json hierarchy_json() const;  ///< hierarchy.json (format filterscope-hierarchy/1)
  nlohmann::json tree_json() const;       ///< tree-CLASS.json (format filterscope-prediction-tree/1)
};

HierarchyRecord run_hierarchy(ModelSource& source, const HierarchyRequest& request, const std::filesystem::path& out,
                              const std::function<void(const std::string&)>& log);

}  // namespace filterscope
