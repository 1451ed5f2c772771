// The extra file "filterscope.json" that an exporter puts into a TorchScript archive
// (torch.jit.save(m, f, _extra_files={"filterscope.json": ...})), as a typed record. Plain std +
// JSON, no tensors, so that the reader can be fuzzed on its own.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace filterscope {

/// What a TorchScript file says about the input it expects. Every field is optional.
struct ExportInfo {
  /// Side of the square input. "input_size" may be a number (28), or a shape the way PyTorch users
  /// write one: [C, H, W] or [H, W] with H == W.
  std::optional<int64_t> input_side;
  /// Channels, when "input_size" was given as [C, H, W]; checked against the dataset.
  std::optional<int64_t> input_channels;
  std::vector<double> mean;  ///< per channel, pixel scale [0, 1]; given together with std
  std::vector<double> std;   ///< per channel, > 0

  /// Parses the text; throws Error naming `where` (the file and "filterscope.json"), the key and
  /// what it expects for text that is not a JSON object or a value of the wrong form.
  static ExportInfo parse(const std::string& text, const std::string& where);
};

}  // namespace filterscope
