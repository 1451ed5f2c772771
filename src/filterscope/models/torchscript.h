// Models exported from PyTorch (torch.jit.script or torch.jit.trace), analysed without Python and
// without hooks in the user's code: the forward graph is frozen and inlined, and every
// convolution, elementwise activation (ReLU, ReLU6/hardtanh, LeakyReLU, SiLU, GELU, Hardswish,
// Hardsigmoid, sigmoid, tanh), pooling and linear node in it becomes a probe point (maps
// [N, C, H, W], or [N, units] after flattening) named by the module path
// PyTorch users know ("features.0", "layer1.0.conv1"). A module called twice gets "@2" on its
// second output ("layer1.0.relu@2"); a functional call (F.relu in a forward) is named by the
// module whose forward makes it and the op ("relu", "layer1.0.max_pool2d"). A probe set is read by
// running a copy of the graph that returns the wanted values besides (or instead of) the output.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "filterscope/models/export_info.h"
#include "filterscope/models/probed_model.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace filterscope {

/// True when the file is a TorchScript archive (a zip holding code/ and data.pkl), whether a
/// user's model or a filterscope checkpoint.
bool is_torchscript_archive(const std::filesystem::path& path);

/// Loads a TorchScript model for inputs of shape [C, H, W] (input_shape). Checks it by running
/// one image: throws Error naming the file for a file that is not TorchScript, a model without
/// convolution, or a model that rejects the input shape (with the channels its first convolution
/// expects).
std::unique_ptr<ProbedModel> load_torchscript_model(const std::filesystem::path& path,
                                                    const std::vector<int64_t>& input_shape,
                                                    const c10::Device& device);

/// A TorchScript module already in memory (a Python user's scripted model): the same checks and
/// probe points as load_torchscript_model. The module is shared, not copied: its parameters are the
/// user's, so later passes see what training changed. Passes run the eval-mode graph; the module's
/// own training flags are left as they were. `name` stands where a file name would in messages.
std::unique_ptr<ProbedModel> torchscript_model(const torch::jit::Module& module, const std::string& name,
                                               const std::vector<int64_t>& input_shape, const c10::Device& device);

/// Writes a TorchScript model (its current weights) to `path` through a temp file and a rename.
/// Throws Error when `model` is not a TorchScript model.
void save_torchscript_model(const ProbedModel& model, const std::filesystem::path& path);

/// Checks the archive (every record's CRC-32) and reads its extra file "filterscope.json"; all
/// fields are empty when there is none. Throws Error naming the file for a damaged archive or a
/// malformed filterscope.json.
ExportInfo read_torchscript_info(const std::filesystem::path& path);

}  // namespace filterscope
