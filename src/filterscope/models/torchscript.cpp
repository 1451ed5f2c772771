#include "filterscope/models/torchscript.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/utils.h>

#include <fstream>
#include <functional>
#include <set>
#include <map>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/core/text.h"
#include "filterscope/io/zip_archive.h"

namespace filterscope {

namespace jit = torch::jit;
namespace fs = std::filesystem;

bool is_torchscript_archive(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  return in && magic[0] == 'P' && magic[1] == 'K';
}

ExportInfo read_torchscript_info(const fs::path& path) {
  const MappedFile file(path);
  const std::string_view bytes = file.bytes();
  std::vector<ZipEntry> entries;
  try {
    verify_zip_checksums(bytes, path.string());
    entries = read_zip_directory(bytes, path.string());
  } catch (const Error& e) {
    throw Error(detail::concat(path.string(), ": corrupt or truncated TorchScript file (",
                               without_prefix(e.what(), path.string()), ")"));
  }
  // Records are named ARCHIVE/extra/NAME, ARCHIVE being the name the file was saved under.
  for (const ZipEntry& e : entries) {
    const std::string suffix = "/extra/filterscope.json";
    if (e.name.size() > suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        e.name.find('/') == e.name.size() - suffix.size())
      return ExportInfo::parse(read_zip_record(bytes, e, path.string()), path.string() + ": filterscope.json");
  }
  return ExportInfo{};
}

namespace {

// The ATen ops that make probe points: the kind and the name a functional call gets ("relu@2").
struct ProbeOp {
  const char* op;
  ProbeKind kind;
  const char* name;
};
const std::vector<ProbeOp>& probe_ops() {
  static const std::vector<ProbeOp> ops = {
      {"aten::conv2d", ProbeKind::Conv, "conv2d"},
      {"aten::_convolution", ProbeKind::Conv, "conv2d"},
      {"aten::convolution", ProbeKind::Conv, "conv2d"},
      {"aten::relu", ProbeKind::ReLU, "relu"},
      {"aten::relu_", ProbeKind::ReLU, "relu"},
      {"aten::max_pool2d", ProbeKind::MaxPool, "max_pool2d"},
      {"aten::max_pool2d_with_indices", ProbeKind::MaxPool, "max_pool2d"},
      {"aten::adaptive_max_pool2d", ProbeKind::MaxPool, "adaptive_max_pool2d"},
      {"aten::relu6", ProbeKind::ReLU6, "relu6"},
      {"aten::relu6_", ProbeKind::ReLU6, "relu6"},
      {"aten::hardtanh", ProbeKind::ReLU6, "hardtanh"},
      {"aten::hardtanh_", ProbeKind::ReLU6, "hardtanh"},
      {"aten::leaky_relu", ProbeKind::LeakyReLU, "leaky_relu"},
      {"aten::leaky_relu_", ProbeKind::LeakyReLU, "leaky_relu"},
      {"aten::silu", ProbeKind::SiLU, "silu"},
      {"aten::silu_", ProbeKind::SiLU, "silu"},
      {"aten::gelu", ProbeKind::GELU, "gelu"},
      {"aten::gelu_", ProbeKind::GELU, "gelu"},
      {"aten::hardswish", ProbeKind::Hardswish, "hardswish"},
      {"aten::hardswish_", ProbeKind::Hardswish, "hardswish"},
      {"aten::hardsigmoid", ProbeKind::Hardsigmoid, "hardsigmoid"},
      {"aten::hardsigmoid_", ProbeKind::Hardsigmoid, "hardsigmoid"},
      {"aten::sigmoid", ProbeKind::Sigmoid, "sigmoid"},
      {"aten::sigmoid_", ProbeKind::Sigmoid, "sigmoid"},
      {"aten::tanh", ProbeKind::Tanh, "tanh"},
      {"aten::tanh_", ProbeKind::Tanh, "tanh"},
      {"aten::avg_pool2d", ProbeKind::AvgPool, "avg_pool2d"},
      {"aten::adaptive_avg_pool2d", ProbeKind::AvgPool, "adaptive_avg_pool2d"},
      {"aten::linear", ProbeKind::Linear, "linear"},
  };
  return ops;
}

bool classify(const jit::Node* node, ProbeKind* kind, std::string* op) {
  const std::string k = node->kind().toQualString();
  for (const auto& entry : probe_ops()) {
    if (k == entry.op) {
      *kind = entry.kind;
      *op = entry.name;
      return true;
    }
  }
  return false;
}

// Whether a PyTorch module of class `cls` makes outputs of this kind (then the probe is named by the
// module's path alone: "features.0.2", not "features.0.2.hardtanh").
bool module_makes(const std::string& cls, ProbeKind kind) {
  switch (kind) {
    case ProbeKind::Conv: return cls == "Conv2d";
    case ProbeKind::ReLU: return cls == "ReLU";
    case ProbeKind::MaxPool: return cls == "MaxPool2d" || cls == "AdaptiveMaxPool2d";
    case ProbeKind::ReLU6: return cls == "ReLU6" || cls == "Hardtanh";
    case ProbeKind::LeakyReLU: return cls == "LeakyReLU";
    case ProbeKind::SiLU: return cls == "SiLU";
    case ProbeKind::GELU: return cls == "GELU";
    case ProbeKind::Hardswish: return cls == "Hardswish";
    case ProbeKind::Hardsigmoid: return cls == "Hardsigmoid";
    case ProbeKind::Sigmoid: return cls == "Sigmoid";
    case ProbeKind::Tanh: return cls == "Tanh";
    case ProbeKind::AvgPool: return cls == "AvgPool2d" || cls == "AdaptiveAvgPool2d";
    case ProbeKind::Linear: return cls == "Linear";
  }
  return false;
}

// The module path of an inlined node from its call stack ("layer1.0.conv1"), and the class of the
// innermost module whose code made it. Entries for a method called on the same module ("SELF")
// and for plain functions (F.relu) add nothing to the path.
std::pair<std::string, std::string> module_path(const jit::Node* node) {
  std::string path, cls;
  const auto stack = node->callstack();
  if (!stack) return {path, cls};
  for (const auto& entry : (*stack)->vec()) {
    const auto& info = std::get<2>(entry);
    if (!info) continue;
    if (info->class_type()) cls = info->class_type()->name() ? info->class_type()->name()->name() : "";
    if (info->instance_name() == "SELF") continue;
    path += (path.empty() ? "" : ".") + info->instance_name();
  }
  return {path, cls};
}

// Visits every node, nested blocks included.
void for_each_node(jit::Block* block, const std::function<void(jit::Node*)>& visit) {
  for (jit::Node* node : block->nodes()) {
    visit(node);
    for (jit::Block* inner : node->blocks()) for_each_node(inner, visit);
  }
}

// The module's forward with every call inlined and its plain attributes (training, inplace,
// padding_mode, ...) made constants, so that the branches on them fold away and the convolution,
// ReLU and pooling nodes stand in the top-level block. Parameters and buffers stay attribute
// reads of `self`. (torch.jit.freeze would do this too, but it rewrites the graph more and leaves
// call stacks that point at deleted functions, which crash error reporting.)
std::shared_ptr<jit::Graph> inlined_forward(const jit::Module& module) {
  std::shared_ptr<jit::Graph> g = module.get_method("forward").graph()->copy();
  jit::Inline(*g);
  std::set<std::string> written;
  for_each_node(g->block(), [&](jit::Node* node) {
    if (node->kind() == c10::prim::SetAttr) written.insert(node->s(c10::attr::name));
  });
  std::vector<jit::Node*> reads;
  for_each_node(g->block(), [&](jit::Node* node) {
    if (node->kind() == c10::prim::GetAttr) reads.push_back(node);
  });
  jit::Value* self = g->inputs()[0];
  for (jit::Node* node : reads) {
    const std::string name = node->s(c10::attr::name);
    if (written.count(name)) continue;
    const auto type = node->output()->type();
    if (type->kind() == c10::TypeKind::TensorType || type->kind() == c10::TypeKind::ClassType) continue;
    // The chain of attribute reads from self that leads here.
    std::vector<std::string> chain = {name};
    const jit::Node* up = node->input()->node();
    while (up->kind() == c10::prim::GetAttr) {
      chain.push_back(up->s(c10::attr::name));
      up = up->input()->node();
    }
    const jit::Value* root = node->input();
    while (root->node()->kind() == c10::prim::GetAttr) root = root->node()->input();
    if (root != self) continue;
    c10::IValue value = module._ivalue();
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) value = value.toObjectRef().getAttr(*it);
    jit::WithInsertPoint here(node);
    if (auto constant = jit::tryInsertConstant(*g, value)) node->output()->replaceAllUsesWith(*constant);
  }
  jit::ConstantPropagation(g);
  jit::EliminateDeadCode(g);
  return g;
}

class TorchScriptModel : public ProbedModel {
 public:
  TorchScriptModel(jit::Module module, std::string file_name, std::vector<int64_t> input_shape)
      : module_(std::move(module)), file_name_(std::move(file_name)), input_shape_(std::move(input_shape)) {
    graph_ = inlined_forward(module_);
    discover();
  }

  const std::vector<ProbePoint>& probe_points() const override { return probes_; }

  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) out.emplace_back(p.name, p.value);
    return out;
  }

  void set_channel_mask(const std::string& conv, const at::Tensor& mask) override {
    const at::Tensor m = checked_mask(conv, mask);
    masks_[index_of(conv)] = m.to(device_);
  }
  void clear_channel_masks() override { masks_.clear(); }

 protected:
  ProbeOutputs run_probes(const at::Tensor& x, const std::vector<std::string>& names, bool need_logits,
                          bool with_grad) override {
    std::vector<size_t> ids;
    for (const auto& name : names) ids.push_back(index_of(name));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const std::vector<c10::IValue> values = run(x, ids, need_logits, with_grad);
    ProbeOutputs out;
    size_t next = 0;
    if (need_logits) {
      const c10::IValue& y = values[next++];
      if (y.isTensor() && y.toTensor().dim() == 2 && y.toTensor().size(0) == x.size(0)) out.logits = y.toTensor();
    }
    for (size_t id : ids) {
      const c10::IValue& v = values[next++];
      FS_CHECK(v.isTensor() && v.toTensor().dim() == probes_[id].dims, file_name_, ": probe ", probes_[id].name,
               " did not produce an ", probes_[id].dims == 4 ? "[N, C, H, W]" : "[N, units]", " tensor");
      out.outputs.emplace_back(probes_[id].name, v.toTensor());
    }
    return out;
  }

 public:
  std::vector<int64_t> input_shape() const override { return input_shape_; }
  c10::Device device() const override { return device_; }
  void to(const c10::Device& device) override {
    module_.to(device);
    for (auto& [id, mask] : masks_) mask = mask.to(device);
    device_ = device;
  }
  const jit::Module& module() const { return module_; }
  std::string description() const override { return file_name_ + " (TorchScript)"; }

  // Channels of every probe, from one forward pass on a zero image. Outputs that are neither maps
  // [N, C, H, W] nor [N, units] (a linear layer over a sequence, say) are not probe points.
  void measure_channels() {
    std::vector<size_t> all(probes_.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    std::vector<int64_t> shape = {1};
    shape.insert(shape.end(), input_shape_.begin(), input_shape_.end());
    // With the output: a head that does not fit the input shape fails here, not mid-analysis.
    const auto values = run(at::zeros(shape, at::TensorOptions().device(device_)), all, true, false);
    std::vector<ProbePoint> kept;
    std::vector<size_t> kept_positions;
    for (size_t i = 0; i < probes_.size(); ++i) {
      const c10::IValue& v = values[i + 1];
      if (!v.isTensor()) continue;
      const int64_t dims = v.toTensor().dim();
      const bool map = dims == 4 && probes_[i].kind != ProbeKind::Linear;
      const bool units = dims == 2 && v.toTensor().size(0) == 1 && probes_[i].kind != ProbeKind::Conv;
      if (!map && !units) continue;
      probes_[i].dims = dims;
      probes_[i].channels = v.toTensor().size(1);
      probes_[i].layer_index = static_cast<int64_t>(kept.size());
      kept.push_back(probes_[i]);
      kept_positions.push_back(positions_[i]);
    }
    probes_ = std::move(kept);
    positions_ = std::move(kept_positions);
    functions_.clear();
  }

 private:
  std::vector<c10::IValue> run(const at::Tensor& x, const std::vector<size_t>& ids, bool logits, bool with_grad) {
    const auto& fn = function_for(ids, logits, with_grad);
    at::AutoGradMode grad_mode(with_grad);
    // Plain interpretation: the profiling executor's rewrites would make the numbers depend on
    // how many batches ran before.
    jit::GraphOptimizerEnabledGuard no_optimizer(false);
    std::vector<c10::IValue> stack{module_._ivalue(), x};
    for (const auto& [id, mask] : masks_) stack.emplace_back(mask);  // the graph's mask inputs, in id order
    fn->run(stack);
    return stack.back().toTupleRef().elements().vec();
  }

  size_t index_of(const std::string& name) const {
    for (size_t i = 0; i < probes_.size(); ++i)
      if (probes_[i].name == name) return i;
    probe(name);  // throws the error listing the names
    return 0;
  }

  void discover() {
    std::map<std::string, int> seen;
    std::map<const jit::Node*, size_t> conv_of_node;
    size_t position = 0;
    for (const jit::Node* node : graph_->nodes()) {
      ProbeKind kind;
      std::string op;
      if (classify(node, &kind, &op)) {
        auto [path, cls] = module_path(node);
        std::string name = module_makes(cls, kind) ? path : (path.empty() ? op : path + "." + op);
        const int count = ++seen[name];
        if (count > 1) name += "@" + std::to_string(count);
        ProbePoint p;
        p.name = name;
        p.kind = kind;
        p.layer_index = static_cast<int64_t>(probes_.size());
        p.channels = 0;
        if (kind == ProbeKind::Conv || kind == ProbeKind::Linear) {
          p.owner_conv = name;
          conv_of_node[node] = probes_.size();
        } else {
          // The convolution (or linear layer) whose channels these are: up the first input through
          // channel-wise layers (batch norm, activations, pooling, the main branch of a residual add).
          const jit::Node* up = node;
          while (!up->inputs().empty() && up->kind() != c10::prim::Param) {
            up = up->inputs()[0]->node();
            auto it = conv_of_node.find(up);
            if (it != conv_of_node.end()) {
              p.owner_conv = probes_[it->second].name;
              break;
            }
            if (up->kind() == c10::prim::GetAttr || up->kind() == c10::prim::Constant) break;
          }
        }
        probes_.push_back(p);
        positions_.push_back(position);
      }
      ++position;
    }
  }

  // The graph that returns the wanted probes (and the logits), with a multiplier input per masked
  // convolution: a mask scales the convolution's output before anything reads it.
  const std::shared_ptr<jit::GraphFunction>& function_for(const std::vector<size_t>& ids, bool logits,
                                                          bool with_grad) {
    std::string key = logits ? "L" : "-";
    key += with_grad ? "G" : "-";
    for (size_t id : ids) key += "," + std::to_string(id);
    key += "|";
    for (const auto& [id, mask] : masks_) key += std::to_string(id) + ",";
    auto& slot = functions_[key];
    if (slot) return slot;
    std::shared_ptr<jit::Graph> g = graph_->copy();
    const std::vector<jit::Node*> nodes(g->nodes().begin(), g->nodes().end());
    std::map<size_t, jit::Value*> value_of;  // probe id -> the value its probe reads (masked if masked)
    for (const auto& [id, mask] : masks_) {
      jit::Value* multiplier = g->addInput("mask" + std::to_string(id))->setType(c10::TensorType::get());
      jit::Node* node = nodes[positions_[id]];
      jit::Value* out = node->outputs()[0];
      jit::WithInsertPoint here(node->next());
      jit::Value* masked = g->insert(c10::aten::mul, {out, multiplier});
      out->replaceAllUsesAfterNodeWith(masked->node(), masked);
      value_of[id] = masked;
    }
    std::vector<jit::Value*> outputs;
    if (logits) outputs.push_back(g->outputs()[0]);
    for (size_t id : ids) {
      jit::Node* node = nodes[positions_[id]];
      jit::Value* value = value_of.count(id) ? value_of[id] : node->outputs()[0];
      // A copy, taken right away: an in-place op further on (ReLU(inplace=True)) would change it.
      jit::WithInsertPoint here(value->node()->next());
      jit::Value* copy = g->insert(c10::aten::clone, {value});
      outputs.push_back(copy);
      if (with_grad) {
        // Gradients with respect to the probe (Grad-CAM, ODIN) need the returned tensor on the path
        // to the logits: the rest of the graph reads a second copy made from the first, so it stays
        // safe from in-place ops and the gradient reaches the probe.
        jit::Value* onward = g->insert(c10::aten::clone, {copy});
        value->replaceAllUsesAfterNodeWith(onward->node(), onward);
      }
    }
    while (!g->outputs().empty()) g->eraseOutput(0);
    {
      jit::WithInsertPoint end(g->return_node());
      g->registerOutput(g->insertNode(g->createTuple(outputs))->output());
    }
    jit::EliminateDeadCode(g);
    slot = std::make_shared<jit::GraphFunction>("filterscope_probes", g, nullptr);
    return slot;
  }

  jit::Module module_;
  std::string file_name_;
  std::vector<int64_t> input_shape_;
  c10::Device device_{c10::kCPU};
  std::shared_ptr<jit::Graph> graph_;
  std::vector<ProbePoint> probes_;
  std::vector<size_t> positions_;  // of each probe's node among the graph's top-level nodes
  std::map<std::string, std::shared_ptr<jit::GraphFunction>> functions_;
  std::map<size_t, at::Tensor> masks_;  // probe id of a convolution -> [1, C, 1, 1] multiplier
};

// The input channels the model's first convolution takes, for the error on a wrong shape.
std::string first_conv_hint(const jit::Module& module) {
  for (const auto& p : module.named_parameters(true)) {
    if (p.value.dim() == 4)
      return detail::concat("; its first convolution (", p.name, ") takes ", p.value.size(1),
                            " input channel", p.value.size(1) == 1 ? "" : "s");
  }
  return "";
}

}  // namespace

void save_torchscript_model(const ProbedModel& model, const fs::path& path) {
  const auto* ts = dynamic_cast<const TorchScriptModel*>(&model);
  FS_CHECK(ts != nullptr, model.description(), " is not a TorchScript model");
  const fs::path tmp = path.string() + ".tmp";
  try {
    ts->module().save(tmp.string());
  } catch (const std::exception& e) {
    throw Error(detail::concat(path.string(), ": cannot write the TorchScript model (", describe_exception(e), ")"));
  }
  fs::rename(tmp, path);
}

namespace {

// Builds the model from a module in eval mode; `where` names it in messages.
std::unique_ptr<ProbedModel> prepared_model(jit::Module module, const std::string& where, const std::string& name,
                                            const std::vector<int64_t>& input_shape, const c10::Device& device) {
  FS_CHECK(input_shape.size() == 3, "input shape must be [C, H, W]");
  FS_CHECK(module.find_method("forward").has_value(), where, ": the TorchScript module has no forward method");
  std::unique_ptr<TorchScriptModel> model;
  try {
    model = std::make_unique<TorchScriptModel>(module, name, input_shape);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(detail::concat(where, ": cannot prepare the model's forward graph (", describe_exception(e), ")"));
  }
  bool has_conv = false;
  for (const auto& p : model->probe_points()) has_conv = has_conv || p.kind == ProbeKind::Conv;
  FS_CHECK(has_conv, where,
           ": the model has no convolution in its forward graph; filterscope analyses convolution filters");
  model->to(device);
  try {
    model->measure_channels();
  } catch (const std::exception& e) {
    throw Error(detail::concat(where, ": the model rejects inputs of shape [N, ", input_shape[0], ", ",
                               input_shape[1], ", ", input_shape[2], "] (", describe_exception(e), ")",
                               first_conv_hint(module)));
  }
  return model;
}

}  // namespace

std::unique_ptr<ProbedModel> load_torchscript_model(const fs::path& path, const std::vector<int64_t>& input_shape,
                                                    const c10::Device& device) {
  FS_CHECK(fs::exists(path), path.string(), ": no such file");
  FS_CHECK(input_shape.size() == 3, "input shape must be [C, H, W]");
  jit::Module module;
  try {
    module = jit::load(path.string(), c10::kCPU);
  } catch (const std::exception& e) {
    throw Error(detail::concat(path.string(), ": not a TorchScript file (", describe_exception(e), ")"));
  }
  FS_CHECK(module.find_method("forward").has_value(), path.string(), ": the TorchScript module has no forward method");
  module.eval();
  return prepared_model(module, path.string(), path.filename().string(), input_shape, device);
}

std::unique_ptr<ProbedModel> torchscript_model(const jit::Module& module, const std::string& name,
                                               const std::vector<int64_t>& input_shape, const c10::Device& device) {
  // The graph is folded with the training flags as they are when it is built: eval mode, then the
  // user's flags back (their loop may be in the middle of training).
  std::vector<std::pair<jit::Module, bool>> flags;
  for (const auto& sub : module.named_modules()) flags.emplace_back(sub.value, sub.value.is_training());
  jit::Module shared = module;
  shared.eval();
  std::unique_ptr<ProbedModel> model;
  try {
    model = prepared_model(shared, name, name, input_shape, device);
  } catch (...) {
    for (auto& [sub, training] : flags) sub.setattr("training", training);
    throw;
  }
  for (auto& [sub, training] : flags) sub.setattr("training", training);
  return model;
}

}  // namespace filterscope
