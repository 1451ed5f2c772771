#include "filterscope/train/checkpoint.h"
#include "filterscope/runs/layout.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdio>
#include <regex>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/io/zip_archive.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {
CheckpointInfo read_info(torch::serialize::InputArchive& archive, const fs::path& path) {
  c10::IValue meta;
  FS_CHECK(archive.try_read("filterscope", meta) && meta.isString(), path.string(),
           ": not a filterscope checkpoint (no metadata)");
  return CheckpointInfo::parse(meta.toStringRef(), path.string());
}

void open_archive(torch::serialize::InputArchive& archive, const fs::path& path) {
  FS_CHECK(fs::exists(path), path.string(), ": no such checkpoint");
  // The checksums first: the archive reader would accept changed bytes. The archive is then parsed
  // from the same mapped bytes (its tensors are copied out), so the file is read once.
  const MappedFile file(path);
  const std::string_view bytes = file.bytes();
  try {
    verify_zip_checksums(bytes, path.string());
  } catch (const Error& e) {
    throw Error(detail::concat(path.string(), ": corrupt or truncated checkpoint (",
                               without_prefix(e.what(), path.string()), ")"));
  }
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const std::exception&) {
    throw Error(detail::concat(path.string(), ": corrupt or truncated checkpoint"));
  }
}
}  // namespace

fs::path checkpoint_path(const fs::path& run_dir, int64_t epoch) { return RunLayout(run_dir).checkpoint(epoch); }

void save_checkpoint(const fs::path& path, Network& network, torch::optim::Optimizer* optimizer,
                     const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive model_archive;
  network->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  archive.write("filterscope", c10::IValue(info.to_text()));
  write_atomic_with(path, [&](const fs::path& temp) { archive.save_to(temp.string()); });
}

CheckpointInfo read_checkpoint_info(const fs::path& path) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  return read_info(archive, path);
}

namespace {
// Loads the weights (and the optimizer's state) of an opened archive into `network`.
void load_weights(torch::serialize::InputArchive& archive, const CheckpointInfo& info, const fs::path& path,
                  Network& network, torch::optim::Optimizer* optimizer) {
  FS_CHECK(info.network == network->name() && info.in_channels == network->in_channels() &&
               info.num_classes == network->num_classes(),
           path.string(), ": checkpoint is of ", info.network, " (", info.in_channels, " channels, ",
           info.num_classes, " classes), expected ", network->name(), " (", network->in_channels(),
           " channels, ", network->num_classes(), " classes)");
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    network->load(model_archive);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive optimizer_archive;
      FS_CHECK(archive.try_read("optimizer", optimizer_archive), path.string(),
               ": checkpoint has no optimizer state to resume from");
      optimizer->load(optimizer_archive);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(detail::concat(path.string(), ": weights do not fit ", network->name(), " (",
                               describe_exception(e), ")"));
  }
}
}  // namespace

void load_checkpoint_into(const fs::path& path, Network& network, torch::optim::Optimizer* optimizer,
                          CheckpointInfo* info_out) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  const CheckpointInfo info = read_info(archive, path);
  load_weights(archive, info, path, network, optimizer);
  if (info_out != nullptr) *info_out = info;
}

Network load_checkpoint(const fs::path& path, torch::optim::Optimizer* optimizer,
                        const std::string& expected_network, CheckpointInfo* info_out) {
  // One read, one check and one parse of the archive for both the info and the weights.
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  const CheckpointInfo info = read_info(archive, path);
  FS_CHECK(expected_network.empty() || info.network == expected_network, path.string(),
           ": checkpoint is of network ", info.network, ", expected ", expected_network);
  Network network = make_network(info.network, info.in_channels, info.num_classes, info.input_size);
  load_weights(archive, info, path, network, optimizer);
  if (info_out != nullptr) *info_out = info;
  return network;
}

std::vector<int64_t> list_checkpoint_epochs(const fs::path& run_dir) { return RunLayout(run_dir).checkpoint_epochs(); }

}  // namespace filterscope
