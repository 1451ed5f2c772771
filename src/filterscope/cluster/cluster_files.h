// The files of `filterscope cluster`: point sets read from .npy, results written as JSON
// (format filterscope-cluster-1).
#pragma once
#include <ATen/core/Tensor.h>

#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/cluster/engine.h"

namespace filterscope {

/// Reads [N, 2] or [F, N, 2] float32/float64 points; throws Error naming the file for another
/// dtype or shape, no points, or NaN/Inf. Returns [F, N, 2].
at::Tensor read_point_sets(const std::string& path);

/// The JSON record of a clustering: settings, and per set the chosen K, CH per K, sizes, labels and
/// every fit's diagnostics.
nlohmann::json cluster_result_json(const ClusterResult& result, const GmmOptions& options, const std::string& input,
                                   const at::Tensor& points);

}  // namespace filterscope
