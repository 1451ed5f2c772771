#include "filterscope/experiments/retrain.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/statistics.h"
#include "filterscope/runs/layout.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/trainer.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

// The level at which retrain.json calls the paired difference significant (the p-value is kept).
constexpr double kRetrainAlpha = 0.05;

std::string index_list_text(const std::vector<int64_t>& indices) {
  std::string text = "dataset_index\n";
  for (int64_t i : indices) text += std::to_string(i) + "\n";
  return text;
}

// The arm's list of removed samples: written once; a different list later is refused rather
// than mixed into a half-trained run.
void write_removed(const fs::path& file, const std::vector<int64_t>& indices) {
  const std::string text = index_list_text(indices);
  if (fs::exists(file)) {
    FS_CHECK(read_file(file) == text, file.string(), " lists other samples than this request removes (another --top, "
             "--random-seed or clean.json); remove ", file.parent_path().string(), " to retrain");
    return;
  }
  ensure_directory(file.parent_path());
  write_file_atomic(file, text);
}

}  // namespace

const ParamTable<RetrainOptions>& RetrainOptions::params() {
  static const ParamTable<RetrainOptions> table = {
      {"retrain-detector", &RetrainOptions::detector,
       "with --retrain: the detector whose flagged samples are removed (loss, aum, forgetting, ...)"},
      {"retrain-top", &RetrainOptions::top,
       "with --retrain: samples removed; 0 = every sample the detector flagged in clean.json", Bounds::closed(0, 1e9)},
      {"retrain-seed", &RetrainOptions::random_seed, "with --retrain: seed of the random removal it is compared with",
       Bounds::closed(0, 1e12)},
  };
  return table;
}

RetrainRecord retrain_without_flagged(const fs::path& run_dir, const RetrainOptions& options,
                                      const std::function<void(const std::string&)>& log) {
  validate_params(options, RetrainOptions::params());
  const RunLayout layout(run_dir);
  const std::optional<CleanRecord> clean = read_clean_record(layout.clean_json());
  FS_CHECK(clean.has_value(), run_dir.string(), ": no clean.json; run `filterscope clean ", run_dir.string(), "` first");
  const auto flagged_it = clean->flagged.find(options.detector);
  if (flagged_it == clean->flagged.end()) {
    std::string names;
    for (const auto& [name, list] : clean->flagged) names += (names.empty() ? "" : ", ") + name;
    throw UsageError(detail::concat("--retrain-detector ", options.detector, ": not a detector of ",
                                    layout.clean_json().string(), " (", names, ")"));
  }
  const std::vector<int64_t>& flagged = flagged_it->second;
  const int64_t k = options.top > 0 ? options.top : static_cast<int64_t>(flagged.size());
  FS_CHECK(k <= static_cast<int64_t>(flagged.size()), "--retrain-top ", k, ": clean.json lists ", flagged.size(),
           " flagged samples for ", options.detector, "; run `filterscope clean --top ", k, "` first");

  const RunRecord parent = read_run_record(run_dir);
  const std::vector<int64_t>& train_indices = parent.dataset.train_indices;
  const std::set<int64_t> replaced(parent.label_noise.dataset_indices.begin(), parent.label_noise.dataset_indices.end());
  std::vector<int64_t> removed_flagged, removed_random;
  for (int64_t i = 0; i < k; ++i) removed_flagged.push_back(train_indices.at(static_cast<size_t>(flagged[static_cast<size_t>(i)])));
  const at::Tensor pick = choose_positions(static_cast<int64_t>(train_indices.size()), k, options.random_seed);
  for (int64_t i = 0; i < pick.numel(); ++i)
    removed_random.push_back(train_indices.at(static_cast<size_t>(pick[i].item<int64_t>())));
  std::sort(removed_flagged.begin(), removed_flagged.end());
  std::sort(removed_random.begin(), removed_random.end());

  RetrainRecord out;
  out.run_dir = run_dir.string();
  out.detector = options.detector;
  out.listed_epoch = clean->listed_epoch;
  out.k = k;
  out.random_seed = options.random_seed;
  const int64_t epochs = parent.settings.train.epochs;

  struct Arm {
    std::string name;
    std::vector<int64_t> removed;
    PreparedRun run;
  };
  std::vector<Arm> arms;
  for (const auto& [name, removed] : {std::make_pair(std::string("without-flagged"), removed_flagged),
                                      std::make_pair(std::string("without-random"), removed_random)}) {
    const fs::path arm_dir = layout.retrain_arm(options.detector, name);
    const fs::path list = layout.retrain_removed(options.detector, name);
    write_removed(list, removed);
    RunSettings settings = parent.settings;
    settings.train.exclude = fs::absolute(list).lexically_normal().string();
    settings.train.threads = at::get_num_threads();  // the caller's; run.json does not keep them
    PreparedRun run = prepare_run(settings);
    const int64_t done = static_cast<int64_t>(read_metrics(arm_dir).size());
    if (done < epochs) {
      log(detail::concat(name, ": training ", epochs, " epochs on ", run.data.train.size(), " samples (", removed.size(),
                         " left out) -> ", arm_dir.string()));
      TrainRunOptions train_options;
      train_options.resume = fs::exists(RunLayout(arm_dir).run_json());
      train_options.run_log = false;
      train_run(run, arm_dir, train_options);
    }
    int64_t removed_replaced = 0;
    for (int64_t i : removed) removed_replaced += replaced.count(i) ? 1 : 0;
    out.arms.push_back({name, arm_dir.string(), static_cast<int64_t>(removed.size()), removed_replaced});
    arms.push_back({name, removed, std::move(run)});
  }

  // Paired validation outcomes at the parent's well-trained epoch and at the last.
  const std::optional<TrackRecord> track = read_track_record(layout.track_json());
  std::vector<std::pair<std::string, int64_t>> roles;
  if (track) roles.push_back({"well_trained", track->well_trained.epoch});
  if (roles.empty() || roles.back().second != epochs) roles.push_back({"last", epochs});
  const PreparedRun parent_run = prepare_run(parent.settings);
  auto right_at = [](const fs::path& arm_dir, int64_t epoch, const PreparedRun& run) {
    Network network = load_checkpoint(RunLayout(arm_dir).checkpoint(epoch));
    const Evaluation e = evaluate(network, run.data.val, run.transform, at::kCPU);
    return std::make_pair(e.predictions.eq(run.data.val.labels), e.accuracy);
  };
  for (const auto& [role, epoch] : roles) {
    RetrainEpoch e;
    e.role = role;
    e.epoch = epoch;
    e.original_val_acc = right_at(run_dir, epoch, parent_run).second;
    const auto [flagged_right, flagged_acc] = right_at(layout.retrain_arm(options.detector, "without-flagged"), epoch, arms[0].run);
    const auto [random_right, random_acc] = right_at(layout.retrain_arm(options.detector, "without-random"), epoch, arms[1].run);
    e.flagged_val_acc = flagged_acc;
    e.random_val_acc = random_acc;
    e.flagged_vs_random.improved = at::logical_and(flagged_right, random_right.logical_not()).sum().item<int64_t>();
    e.flagged_vs_random.worsened = at::logical_and(random_right, flagged_right.logical_not()).sum().item<int64_t>();
    const McNemarTest t = mcnemar_exact(e.flagged_vs_random.improved, e.flagged_vs_random.worsened);
    e.flagged_vs_random.p_value = t.p_improved;
    e.flagged_vs_random.significant = t.p_improved < kRetrainAlpha;
    e.p_two_sided = t.p_two_sided;
    out.epochs.push_back(e);
  }
  write_file_atomic(layout.retrain_json(options.detector), out.to_json().dump(1) + "\n");
  return out;
}

}  // namespace filterscope
