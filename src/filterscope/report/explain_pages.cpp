#include "filterscope/report/explain_pages.h"
#include "filterscope/runs/layout.h"

#include <ATen/ATen.h>

#include "filterscope/core/files.h"
#include "filterscope/report/html_report.h"

namespace filterscope {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

/// Pictures [N, C, H, W] in [0, 1] as 8-bit pixel lists the page's canvases draw.
json pictures_json(const std::vector<std::pair<std::string, at::Tensor>>& pictures) {
  json out = json::object();
  for (const auto& [name, t] : pictures) {
    const at::Tensor bytes = t.to(at::kCPU).to(at::kFloat).clamp(0, 1).mul(255).round().to(at::kByte).contiguous();
    const uint8_t* p = bytes.data_ptr<uint8_t>();
    out[name] = {{"shape", bytes.sizes().vec()}, {"data", std::vector<uint8_t>(p, p + bytes.numel())}};
  }
  return out;
}

fs::path write_page(const json& data, const fs::path& page) {
  write_file_atomic(page, render_page(explain_template(), data));
  return page;
}

}  // namespace

fs::path write_visualize_page(const VisualizeRecord& record, const fs::path& dir) {
  return write_page({{"kind", "visualize"}, {"record", record.to_json()}, {"pictures", pictures_json(record.pictures)}},
                    dir / visualize_files::kPage);
}

fs::path write_hierarchy_page(const HierarchyRecord& record, const fs::path& dir) {
  return write_page({{"kind", "hierarchy"},
                     {"record", record.hierarchy_json()},
                     {"tree", record.tree_json()},
                     {"pictures", pictures_json(record.pictures)}},
                    dir / hierarchy_files::kPage);
}

}  // namespace filterscope
