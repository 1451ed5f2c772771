// `filterscope report`: one self-contained HTML page for a run directory. The run's files (run.json,
// metrics.csv, track.json, the overfit epoch's analysis and projections, gradients.json, mask.json)
// become one JSON object embedded in a page whose inline script draws the charts as SVG; nothing is
// fetched from the network.
#pragma once
#include <c10/core/Device.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filterscope/core/params.h"
#include "filterscope/runs/study_records.h"

namespace filterscope {

struct ReportOptions {
  std::string out;                ///< the page; "" = RUN/report.html
  int64_t anomaly_scatters = 24;  ///< scatter plots of anomaly filters (the most flagged first)
  int64_t normal_scatters = 2;    ///< normal filters shown beside them, per layer with anomaly filters
  int64_t thumbnails = 24;        ///< outlier samples shown as images

  static const ParamTable<ReportOptions>& params();
};

struct ReportResult {
  std::filesystem::path file;
  int64_t bytes = 0;
  std::vector<std::string> missing;  ///< parts the run does not have yet, as the page states them
};

/// The epoch whose analysis the page shows: track's overfit epoch, else the last one analysed (0: none).
int64_t report_epoch(const std::filesystem::path& run_dir);

/// The explicit step before drawing: when the shown epoch's analysis has no 2-D projections, makes
/// them (the same analysis again with its points, written beside it). Returns whether it did.
bool make_missing_projections(const std::filesystem::path& run_dir, const c10::Device& device,
                              const std::function<void(const std::string&)>& log);

/// Everything the page shows, read from the run's files and records; writes nothing. Scatter plots
/// are left out (and named as missing) when the projections were not made.
nlohmann::json report_data(const std::filesystem::path& run_dir, const ReportOptions& options);

/// The page for `data`: the template with the JSON embedded.
std::string render_report(const nlohmann::json& data);

/// OUT/study.html: the study's record with a link to each seed's report.html (relative to OUT).
std::filesystem::path write_study_page(const StudyRecord& study, const std::filesystem::path& out_dir);

/// Any page: the template's title, CSS and script put into the shared skeleton with the shared
/// CSS and JS, and `data` embedded as JSON.
std::string render_page(const std::string& page_template, const nlohmann::json& data);

/// make_missing_projections, then report_data + render_report, written atomically.
ReportResult write_report(const std::filesystem::path& run_dir, const ReportOptions& options,
                          const c10::Device& device, const std::function<void(const std::string&)>& log);

/// The HTML templates and their shared parts (src/filterscope/report/, compiled in).
const std::string& report_template();
const std::string& patterns_template();  ///< the pages of `activations` and `ood`
const std::string& explain_template();   ///< the pages of `visualize` and `hierarchy`
const std::string& study_template();     ///< the page of `study` (several seeds)
const std::string& explorer_template();  ///< the page of `serve` (it fetches its data from the server)
const std::string& page_skeleton();  ///< the HTML around every page
const std::string& page_common_css();
const std::string& page_common_js();
const std::string& chart_library_js();  ///< d3 (Debian's node-d3), pasted into every page

}  // namespace filterscope
