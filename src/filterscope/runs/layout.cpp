#include "filterscope/runs/layout.h"

#include <algorithm>
#include <cstdio>
#include <system_error>

namespace filterscope {

namespace fs = std::filesystem;

std::string epoch_name(int64_t epoch) {
  char name[32];
  std::snprintf(name, sizeof name, "epoch-%03lld", static_cast<long long>(epoch));
  return name;
}

std::optional<int64_t> parse_epoch_name(const std::string& name, const std::string& suffix) {
  const std::string prefix = "epoch-";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return std::stoll(digits);
}

namespace {
fs::path absolute_clean(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  return a.lexically_normal();
}

std::vector<int64_t> epochs_in(const fs::path& dir, const std::string& suffix, const char* must_contain) {
  std::vector<int64_t> epochs;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return epochs;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto epoch = parse_epoch_name(entry.path().filename().string(), suffix);
    if (!epoch) continue;
    if (must_contain != nullptr && !fs::exists(entry.path() / must_contain, ec)) continue;
    epochs.push_back(*epoch);
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}
}  // namespace

RunLayout::RunLayout(const fs::path& root) : root_(root) {}

fs::path RunLayout::checkpoint(int64_t epoch) const { return checkpoints_dir() / (epoch_name(epoch) + ".pt"); }

fs::path RunLayout::sample_epoch_csv(int64_t epoch) const { return samples_dir() / (epoch_name(epoch) + ".csv"); }

fs::path RunLayout::analysis_dir(int64_t epoch) const { return analyses_dir() / epoch_name(epoch); }

// The fold count is part of the folder's name: runs made with another --folds are other runs.
fs::path RunLayout::fold_run(int64_t fold, int64_t folds) const {
  return folds_dir() / ("k" + std::to_string(folds)) / ("fold-" + std::to_string(fold));
}

fs::path RunLayout::fold_held_out(int64_t fold, int64_t folds) const {
  return folds_dir() / ("k" + std::to_string(folds)) / ("fold-" + std::to_string(fold) + "-held-out.txt");
}

fs::path RunLayout::fold_probabilities(int64_t epoch, int64_t folds) const {
  return folds_dir() / ("k" + std::to_string(folds)) / "probabilities" / (epoch_name(epoch) + ".npy");
}

bool RunLayout::is_run() const {
  std::error_code ec;
  return fs::is_regular_file(run_json(), ec);
}

std::vector<int64_t> RunLayout::checkpoint_epochs() const {
  std::vector<int64_t> epochs = epochs_in(checkpoints_dir(), ".pt", nullptr);
  epochs.erase(std::remove(epochs.begin(), epochs.end(), 0), epochs.end());
  return epochs;
}

std::vector<int64_t> RunLayout::analysed_epochs() const { return epochs_in(analyses_dir(), "", kAnalysisJson); }

std::optional<RunLayout> RunLayout::of_checkpoint(const fs::path& checkpoint_file) {
  if (!parse_epoch_name(checkpoint_file.filename().string(), ".pt")) return std::nullopt;
  // RUN/checkpoints/epoch-NNN.pt as given when that names the run ("runs/a/checkpoints/epoch-001.pt",
  // "../checkpoints/epoch-001.pt"); made absolute when the given path is too short to
  // ("epoch-001.pt" from inside RUN/checkpoints).
  fs::path folder = checkpoint_file.parent_path();
  if (folder.filename() != "checkpoints" || folder.parent_path().empty())
    folder = absolute_clean(checkpoint_file).parent_path();
  if (folder.filename() != "checkpoints") return std::nullopt;
  RunLayout layout(folder.parent_path());
  if (!layout.is_run()) return std::nullopt;
  return layout;
}

fs::path default_run_dir(const std::string& model, const std::string& dataset, int64_t seed) {
  return fs::path("runs") / (model + "-" + dataset + "-s" + std::to_string(seed));
}

std::string activations_files::array(const std::string& prefix, const std::string& group, const std::string& stem,
                                     const std::string& suffix) {
  return prefix + group + "/" + stem + suffix + ".npy";
}

std::string hierarchy_files::tree(int64_t class_index) { return "tree-" + std::to_string(class_index) + ".json"; }

fs::path grid_files::run(const fs::path& out, const std::string& network, const std::string& dataset,
                         const std::string& noise_percent, int64_t seed) {
  return out / "runs" / (network + "-" + dataset + "-n" + noise_percent) / ("seed-" + std::to_string(seed));
}

}  // namespace filterscope
