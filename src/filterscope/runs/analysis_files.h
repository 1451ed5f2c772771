// The files `filterscope analyze` writes: analysis.json (versioned schema), filters.csv (one row
// per filter), outliers.csv (one row per outlier sample) and, on request, the 2-D projections.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "filterscope/anomaly/analyze.h"
#include "filterscope/data/dataset.h"
#include "filterscope/runs/analysis_record.h"

namespace filterscope {

/// What the analysis ran on, for the record.
struct AnalysisContext {
  ModelRecord model;          ///< description, source file, kind, epoch
  ProbeSetRecord data;        ///< dataset, split, split name, probe size and seed, normalisation
  nlohmann::json settings;    ///< every option in force
  const Dataset* probe_set = nullptr;
  at::Tensor noisy;         ///< [N] bool, optional: probe samples whose training label was replaced
  AnomalyOptions anomaly;   ///< the criteria applied (for the closest-miss lines)
};

/// Outlier samples: probe positions in a small cluster of at least one anomaly filter, with the
/// "layer:filter" names of those filters.
struct Outlier {
  int64_t position = 0;
  std::vector<std::string> filters;
};
std::vector<Outlier> outlier_samples(const Analysis& analysis);

/// The file-name stem of a probe point's projections ("features.0" -> "features.0").
std::string file_stem(const std::string& layer);

/// The record of an analysis (what analysis.json holds).
AnalysisRecord analysis_record(const Analysis& analysis, const AnalysisContext& context);

/// An analysis's files in memory: what write_analysis writes, for callers that want the contents
/// (the Python package) before or instead of the files.
struct AnalysisFiles {
  AnalysisRecord record;
  std::string analysis_json, filters_csv, outliers_csv;
  at::Tensor samples;  ///< [N] int64 dataset indices of the probe set (with projections only)
  struct Projection {
    std::string stem;
    at::Tensor points;  ///< [C, N, 2] float32
    at::Tensor labels;  ///< [C, N] int64
  };
  std::vector<Projection> projections;
};

/// The files' contents (projections only when kept).
AnalysisFiles render_analysis(const Analysis& analysis, const AnalysisContext& context, bool projections);

/// Writes them into out_dir: projections first, analysis.json last (its presence says complete).
void write_analysis_files(const std::filesystem::path& out_dir, const AnalysisFiles& files);

/// Writes analysis.json, filters.csv and outliers.csv into out_dir (atomically, each), and with
/// projections the folder projections/ (LAYER.points.npy [C, N, 2] float32, LAYER.labels.npy
/// [C, N] int64 cluster of each sample at the chosen K, samples.npy [N] int64 dataset indices).
/// Returns the record written to analysis.json.
AnalysisRecord write_analysis(const std::filesystem::path& out_dir, const Analysis& analysis,
                              const AnalysisContext& context, bool projections);

}  // namespace filterscope
