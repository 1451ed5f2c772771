// How classes group in a network's own representation and along which filters a class is
// recognised (Dai, section 3): the category hierarchy and minimum spanning tree of Algorithm 1, and
// the filter prediction tree of Algorithm 2.
#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "filterscope/data/dataset.h"
#include "filterscope/models/probed_model.h"

namespace filterscope {

/// One vector per class: the mean of `layer`'s flattened outputs over the class's images, float64
/// [K, D] (streamed batch by batch). Throws Error naming a class without images.
/// With `means_layer` and `channel_means`, the same pass also gives every image's spatial mean of
/// each channel of that layer: [N, C] float64.
at::Tensor class_representatives(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                                 const std::string& layer, int64_t batch_size, const std::string& means_layer = "",
                                 at::Tensor* channel_means = nullptr);

/// 1/2 (1 - cos) between every pair of rows: [K, K] float64 (a zero row is at 1/2 from everything).
at::Tensor cosine_distances(const at::Tensor& vectors);

struct HierarchyNode {
  int64_t id = 0;
  std::string label;               ///< a class name for leaves, "" for merges
  std::vector<int64_t> children;   ///< two for a merge, none for a leaf
  double height = 0;               ///< the distance at which the children were merged
  int64_t leaves = 1;
};

struct MstEdge {
  int64_t a = 0, b = 0;  ///< leaf ids, a < b
  double weight = 0;
};

/// Algorithm 1: leaves 0..K-1; repeatedly the closest pair of the current nodes merges into a
/// parent whose distance to every other node is the average of its children's (ties: the pair that
/// comes first in row order), until one root (the last node). And the minimum spanning tree of the
/// dense graph of the leaves (Prim's algorithm from leaf 0).
struct CategoryHierarchy {
  std::vector<HierarchyNode> nodes;
  std::vector<MstEdge> mst;
  double mst_weight = 0;
};
CategoryHierarchy build_hierarchy(const at::Tensor& distances, const std::vector<std::string>& labels);

struct TreeNode {
  int64_t id = 0;
  std::vector<int64_t> children;
  std::vector<int64_t> filters;      ///< reachable filters
  std::optional<int64_t> critical;   ///< merges: the filter whose removal changes the children's cosine the most
  double distance = 0;               ///< merges: 1/2 (1 - cos) of the children (on their reachable filters)
  std::optional<int64_t> image;      ///< leaves: the image (an index given by the caller)
};

/// Algorithm 2 on the maps [n, d, ...] of a class's n images at a layer with d filters: the images
/// start as the root's children with every filter reachable; while some child has more than one
/// reachable filter (and there are two children), the two closest children (cosine on their
/// reachable filters) merge into a node whose vector is the mean of theirs and whose reachable
/// filters are the intersection of theirs minus the critical filter: the F of the intersection
/// minimising cos(u, v without F) / cos(u, v) (a cosine with a zero vector counts as 0). Leaves are
/// nodes 0..n-1, the root is the last node.
struct PredictionTree {
  std::vector<TreeNode> nodes;
  int64_t root = 0;
};
PredictionTree build_prediction_tree(const at::Tensor& maps, const std::vector<int64_t>& images);

}  // namespace filterscope
