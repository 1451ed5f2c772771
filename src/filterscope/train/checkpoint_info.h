// What a checkpoint says about itself (its "filterscope" record), as plain data: written and read
// without LibTorch so that the reader can be fuzzed on its own.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace filterscope {

/// What a checkpoint says about itself, readable without building the network.
struct CheckpointInfo {
  int64_t epoch = 0;
  std::string network;  ///< e.g. "simple-cnn"
  int64_t in_channels = 0, num_classes = 0, input_size = 0;
  nlohmann::json settings;  ///< the run's settings (run.json's "settings"), an object

  /// The record's text (JSON with "format": "filterscope-checkpoint-1").
  std::string to_text() const;
  /// Parses the record; throws Error starting with `where` for text that is not JSON, another
  /// format, or a field missing, of the wrong type or out of range.
  static CheckpointInfo parse(const std::string& text, const std::string& where);
};

}  // namespace filterscope
