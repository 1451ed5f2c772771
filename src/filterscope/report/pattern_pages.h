// The pages of `filterscope activations` (histograms per layer, sparsity by depth, KL heatmaps,
// interaction histograms) and `filterscope ood` (metrics table, AUROC bars, ROC curves): one
// self-contained template, drawn from the record and the arrays it names.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

#include "filterscope/activations/records.h"

namespace filterscope {

/// The page's data: the record plus the histograms and KL matrices read from `dir`.
nlohmann::json activations_page_data(const ActivationsRecord& record, const std::filesystem::path& dir);
nlohmann::json ood_page_data(const OodRecord& record);

/// Writes DIR/activations.html (resp. DIR/ood.html) atomically; returns its path.
std::filesystem::path write_activations_page(const ActivationsRecord& record, const std::filesystem::path& dir);
std::filesystem::path write_ood_page(const OodRecord& record, const std::filesystem::path& dir);

}  // namespace filterscope
