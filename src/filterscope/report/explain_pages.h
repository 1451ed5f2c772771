// The pages of `filterscope visualize` (optimised images, fooling, Grad-CAM overlays, top images
// with their histograms, out-of-sample shares) and `filterscope hierarchy` (the merge tree, the
// minimum spanning tree and the filter prediction tree, drawn as SVG): one template, the record
// and its pictures embedded.
#pragma once
#include <filesystem>

#include "filterscope/explain/explain_runs.h"

namespace filterscope {

std::filesystem::path write_visualize_page(const VisualizeRecord& record, const std::filesystem::path& dir);
std::filesystem::path write_hierarchy_page(const HierarchyRecord& record, const std::filesystem::path& dir);

}  // namespace filterscope
