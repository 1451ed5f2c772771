#include "filterscope/report/pattern_pages.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include "filterscope/core/files.h"
#include "filterscope/io/json.h"
#include "filterscope/io/npy.h"
#include "filterscope/report/html_report.h"

namespace filterscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// A 1-D or 2-D array as nested JSON lists (NaN as null).
json array_json(const at::Tensor& t) {
  const at::Tensor d = t.to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  if (d.dim() == 1) {
    json row = json::array();
    for (int64_t i = 0; i < d.size(0); ++i) row.push_back(json_number(p[i]));
    return row;
  }
  json rows = json::array();
  const int64_t cols = d.numel() / std::max<int64_t>(1, d.size(0));
  for (int64_t r = 0; r < d.size(0); ++r) {
    json row = json::array();
    for (int64_t c = 0; c < cols; ++c) row.push_back(json_number(p[r * cols + c]));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

json activations_page_data(const ActivationsRecord& record, const fs::path& dir) {
  json data;
  data["kind"] = "activations";
  data["record"] = record.to_json();
  json arrays = json::object();
  for (const auto& s : record.summaries) arrays[s.histogram_file] = array_json(read_npy(dir / s.histogram_file));
  for (const auto& d : record.divergences) arrays[d.file] = array_json(read_npy(dir / d.file));
  for (const auto& i : record.interactions) arrays[i.histogram_file] = array_json(read_npy(dir / i.histogram_file));
  data["arrays"] = arrays;
  return data;
}

json ood_page_data(const OodRecord& record) { return {{"kind", "ood"}, {"record", record.to_json()}}; }

fs::path write_activations_page(const ActivationsRecord& record, const fs::path& dir) {
  const fs::path page = dir / activations_files::kPage;
  write_file_atomic(page, render_page(patterns_template(), activations_page_data(record, dir)));
  return page;
}

fs::path write_ood_page(const OodRecord& record, const fs::path& dir) {
  const fs::path page = dir / ood_files::kPage;
  write_file_atomic(page, render_page(patterns_template(), ood_page_data(record)));
  return page;
}

}  // namespace filterscope
