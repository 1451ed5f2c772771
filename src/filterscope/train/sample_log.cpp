#include "filterscope/train/sample_log.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/runs/layout.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {
constexpr const char* kHeader = "position,dataset_index,label,prediction,loss,margin,correct";
}  // namespace

std::string SampleEpoch::to_csv() const {
  std::string out = std::string(kHeader) + "\n";
  out.reserve(out.size() + size() * 48);
  char row[160];
  for (size_t i = 0; i < size(); ++i) {
    const int n = std::snprintf(row, sizeof row, "%zu,%" PRId64 ",%" PRId64 ",%" PRId64 ",%.9g,%.9g,%d\n", i,
                                dataset_index[i], label[i], prediction[i], loss[i], margin[i], correct(i) ? 1 : 0);
    out.append(row, static_cast<size_t>(n));
  }
  return out;
}

SampleEpoch SampleEpoch::from_csv(const std::string& text, int64_t epoch, const std::string& source) {
  SampleEpoch e;
  e.epoch = epoch;
  size_t at = text.find('\n');
  FS_CHECK(at != std::string::npos && text.compare(0, at, kHeader) == 0, source, ": not a samples file (the header is not \"",
           kHeader, "\")");
  int64_t line = 1;
  ++at;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    FS_CHECK(end != std::string::npos, source, ": line ", line + 1, " is cut short");
    ++line;
    const std::string row = text.substr(at, end - at);
    at = end + 1;
    long long position = 0, index = 0, label = 0, prediction = 0;
    double loss = 0, margin = 0;
    int correct = 0, used = 0;
    const int fields = std::sscanf(row.c_str(), "%lld,%lld,%lld,%lld,%lf,%lf,%d%n", &position, &index, &label, &prediction,
                                   &loss, &margin, &correct, &used);
    FS_CHECK(fields == 7 && static_cast<size_t>(used) == row.size() &&
                 position == static_cast<long long>(e.size()) && (correct == 0 || correct == 1) &&
                 (correct == 1) == (label == prediction),
             source, ": line ", line, " is malformed (\"", printable(row, 80), "\")");
    e.dataset_index.push_back(index);
    e.label.push_back(label);
    e.prediction.push_back(prediction);
    e.loss.push_back(loss);
    e.margin.push_back(margin);
  }
  return e;
}

void write_sample_epoch(const fs::path& run_dir, const SampleEpoch& epoch) {
  const RunLayout layout(run_dir);
  ensure_directory(layout.samples_dir());
  write_file_atomic(layout.sample_epoch_csv(epoch.epoch), epoch.to_csv());
}

std::vector<SampleEpoch> read_sample_history(const fs::path& run_dir, int64_t last) {
  const RunLayout layout(run_dir);
  std::vector<SampleEpoch> epochs;
  for (int64_t e = 1; e <= last; ++e) {
    const fs::path file = layout.sample_epoch_csv(e);
    FS_CHECK(fs::exists(file), file.string(),
             ": missing: the run was trained with --no-sample-log, or before `filterscope train` recorded every "
             "sample's loss and margin (train it again to use the label-noise detectors)");
    epochs.push_back(SampleEpoch::from_csv(read_file(file), e, file.string()));
    FS_CHECK(epochs.back().size() == epochs.front().size(), file.string(), ": ", epochs.back().size(),
             " samples, epoch 1 has ", epochs.front().size());
  }
  return epochs;
}

}  // namespace filterscope
