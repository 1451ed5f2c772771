#include "filterscope/train/monitor.h"

#include <torch/torch.h>

#include <chrono>
#include <limits>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/io/npy.h"
#include "filterscope/models/torchscript.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/weight_log.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

// Batches held unchecked at most: a flush costs a few ops, held batches cost memory.
constexpr int64_t kMaxPendingBatches = 64;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int64_t> int64s(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

void check_split(const Dataset& d, const std::string& what) {
  FS_CHECK(d.images.defined() && d.images.dim() == 4, what, ": images must be [N, C, H, W]");
  FS_CHECK(d.labels.defined() && d.labels.dim() == 1 && d.labels.size(0) == d.images.size(0), what,
           ": one label per image is needed (", d.images.size(0), " images, ",
           d.labels.defined() ? d.labels.numel() : 0, " labels)");
  FS_CHECK(d.images.is_floating_point() || d.images.scalar_type() == at::kByte, what,
           ": images must be float (network input) or uint8 pixels");
}

}  // namespace

RunMonitor::RunMonitor(fs::path run_dir, std::unique_ptr<ProbedModel> model, const Dataset& train,
                       const std::optional<Dataset>& val, const MonitorOptions& options)
    : run_dir_(std::move(run_dir)), model_(std::move(model)), options_(options) {
  FS_CHECK(model_ != nullptr, "the monitor needs a model");
  const RunLayout layout(run_dir_);
  FS_CHECK(!layout.is_run() && !fs::exists(layout.checkpoints_dir()), run_dir_.string(),
           ": already holds a run; choose another run directory");
  check_split(train, "train_set");
  FS_CHECK(train.size() > 0, "train_set: no samples");
  if (val) {
    check_split(*val, "val_set");
    FS_CHECK(val->images.sizes().slice(1) == train.images.sizes().slice(1), "val_set: images of shape ",
             val->images.sizes().slice(1), ", train_set's are ", train.images.sizes().slice(1));
    FS_CHECK(val->images.scalar_type() == train.images.scalar_type(), "val_set: images of another dtype than train_set's");
  }
  int64_t classes = std::max<int64_t>(train.num_classes, train.labels.max().item<int64_t>() + 1);
  if (val && val->size() > 0) classes = std::max(classes, val->labels.max().item<int64_t>() + 1);
  FS_CHECK(train.labels.min().item<int64_t>() >= 0, "train_set: a label is negative");
  FS_CHECK(classes >= 2, "train_set: labels of ", classes, " class(es); a classifier needs at least two");
  std::vector<std::string> names = train.class_names;
  if (static_cast<int64_t>(names.size()) != classes) {
    names.clear();
    for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  }
  FS_CHECK(options.replaced_positions.size() == options.original_labels.size(),
           "label noise: ", options.replaced_positions.size(), " replaced positions but ",
           options.original_labels.size(), " original labels");
  for (int64_t p : options.replaced_positions)
    FS_CHECK(p >= 0 && p < train.size(), "label noise: position ", p, " is not in the training set of ", train.size());
  const std::vector<int64_t> shape = {train.channels(), train.height(), train.width()};
  FS_CHECK(model_->input_shape() == shape, "the model was prepared for inputs ", model_->input_shape(),
           ", the training images are ", shape);
  int64_t outputs = 0;
  {
    // The model's classes, from one image (on the model's device): the labels must fit them.
    const at::Tensor x = make_input(train, fit_normalisation(train), at::arange(1, at::kLong)).to(model_->device());
    const at::Tensor logits = model_->forward_probes(x, {}, true).logits;
    FS_CHECK(logits.defined(), model_->description(), ": the model's output is not [N, classes] logits");
    outputs = logits.size(1);
  }
  FS_CHECK(outputs >= classes, model_->description(), ": the model has ", outputs, " outputs, the labels ",
           classes, " classes");
  classes = outputs;
  while (static_cast<int64_t>(names.size()) < classes) names.push_back(std::to_string(names.size()));

  ensure_directory(run_dir_);
  // The data the loop trains on, as the npy dataset every command reads back.
  write_npy_folder(layout.data_dir(), train, val ? &*val : nullptr, names);
  RunSettings settings;
  settings.data.dataset = "npy";
  settings.data.data_dir = fs::absolute(layout.data_dir()).lexically_normal().string();
  settings.split.train_size = 0;
  settings.split.val_size = 0;
  settings.train.model = "torchscript";
  settings.train.optimizer = options.optimizer;
  settings.train.lr = options.lr;
  settings.train.momentum = options.momentum;
  settings.train.weight_decay = options.weight_decay;
  settings.train.batch_size = std::max<int64_t>(1, options.batch_size);
  settings.train.epochs = std::max<int64_t>(1, options.epochs);
  settings.train.seed = options.seed;
  settings.train.threads = 0;
  settings.train.device = model_->device().str();
  run_ = prepare_run(settings);
  run_.data.train.num_classes = run_.data.val.num_classes = classes;

  RunRecord r;
  r.settings = settings;
  r.dataset.name = "npy";
  r.dataset.num_classes = classes;
  r.dataset.class_names = names;
  r.dataset.image_shape = shape;
  r.dataset.normalisation = run_.transform;
  r.dataset.train_split = run_.data.train.name;
  r.dataset.val_split = run_.data.val.name;
  r.dataset.train_indices = int64s(run_.data.train.indices);
  r.dataset.val_indices = int64s(run_.data.val.indices);
  r.label_noise.count = static_cast<int64_t>(options.replaced_positions.size());
  r.label_noise.share = static_cast<double>(r.label_noise.count) / static_cast<double>(train.size());
  r.label_noise.dataset_indices = options.replaced_positions;  // the npy dataset's indices are its positions
  r.label_noise.original_labels = options.original_labels;
  for (int64_t p : options.replaced_positions) r.label_noise.new_labels.push_back(run_.data.train.labels[p].item<int64_t>());
  r.network.name = options.model_name;
  r.network.in_channels = shape[0];
  r.network.num_classes = classes;
  r.network.input_size = shape[1];
  for (const auto& [name, p] : model_->named_parameters()) r.network.parameters += p.numel();
  for (const auto& p : model_->probe_points())
    if (p.is_map()) r.network.probe_points.push_back({p.name, probe_kind_name(p.kind), p.owner_conv, p.channels});
  ensure_directory(layout.checkpoints_dir());
  save_torchscript_model(*model_, layout.initial_checkpoint());
  write_file_atomic(layout.run_json(), r.to_json().dump(2) + "\n");

  const int64_t n = run_.data.train.size();
  sample_logits_ = at::zeros({n, classes}, at::kFloat);
  seen_ = at::zeros({n}, at::kBool);
  if (options_.run_log) {
    recorder_ = std::make_unique<WeightStatsRecorder>(weighted_layers(model_->named_parameters()));
    if (options_.batch_size > 0) {
      steps_per_epoch_ = (n + options_.batch_size - 1) / options_.batch_size;
      log_every_ = log_interval(options_.log_every, steps_per_epoch_);
      log_ = std::make_unique<RunLogWriter>(
          layout.run_log(),
          run_log_setup(weighted_layers(model_->named_parameters()), run_.data.val, steps_per_epoch_, log_every_,
                        "monitor"),
          0);
      record_weights(true);
    }
  }
  epoch_started_ = now_seconds();
}

RunMonitor::~RunMonitor() = default;

void RunMonitor::check_open(const char* call) const {
  FS_CHECK(stopped_.empty(), call, ": the monitor of ", run_dir_.string(), " stopped at a bad batch (", stopped_,
           "); start a new run directory");
  FS_CHECK(!closed_, call, ": the monitor of ", run_dir_.string(), " was closed");
}

// Iterations count as `train` counts them (epochs done x steps an epoch + steps into this one), so
// that a loop dropping its last batch keeps each epoch's records at the epoch's place. An epoch-end
// record is written with the finished epoch counted in metrics_.
void RunMonitor::record_weights(bool epoch_end) {
  if (!log_) return;
  const int64_t done = static_cast<int64_t>(metrics_.size());
  WeightRecord r;
  r.iteration = epoch_end ? done * steps_per_epoch_ : done * steps_per_epoch_ + step_in_epoch_;
  r.epoch = epoch_end ? static_cast<double>(done)
                      : static_cast<double>(done) + static_cast<double>(step_in_epoch_) / static_cast<double>(steps_per_epoch_);
  r.epoch_end = epoch_end;
  if (interval_images_ > 0) {
    r.train_loss = interval_loss_ / static_cast<double>(interval_images_);
    r.train_acc = static_cast<double>(interval_correct_) / static_cast<double>(interval_images_);
  }
  r.layers = recorder_->record();
  log_->add_record(r);
  interval_loss_ = 0;
  interval_correct_ = 0;
  interval_images_ = 0;
}

void RunMonitor::on_batch(const at::Tensor& indices, const at::Tensor& logits, const at::Tensor& labels, double loss) {
  check_open("on_batch");
  const int64_t n = run_.data.train.size();
  const int64_t classes = sample_logits_.size(1);
  // Shapes and types only here (no tensor op): the contents are checked in flush_pending().
  FS_CHECK(indices.defined() && indices.dim() == 1 && !indices.is_floating_point(),
           "on_batch: indices must be a 1-D integer tensor of positions in train_set");
  const int64_t b = indices.size(0);
  FS_CHECK(b > 0, "on_batch: an empty batch");
  FS_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) == b && logits.size(1) == classes,
           "on_batch: logits must be [", b, ", ", classes, "] (one row of class scores per index), got ",
           logits.defined() ? logits.sizes() : at::IntArrayRef{});
  FS_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == b && !labels.is_floating_point(),
           "on_batch: labels must be ", b, " integers, one per index");
  FS_CHECK(std::isfinite(loss), "on_batch: the loss is not finite (", loss, ")");
  if (steps_ == 0 && step_in_epoch_ == 0 && metrics_.empty() && !log_ && options_.run_log) {
    // The batch size is known now: the run log begins, with the weights as the monitor found them.
    options_.batch_size = b;
    steps_per_epoch_ = (n + b - 1) / b;
    log_every_ = log_interval(options_.log_every, steps_per_epoch_);
    RunRecord r = read_run_record(run_dir_);
    r.settings.train.batch_size = b;
    write_file_atomic(RunLayout(run_dir_).run_json(), r.to_json().dump(2) + "\n");
    log_ = std::make_unique<RunLogWriter>(
        RunLayout(run_dir_).run_log(),
        run_log_setup(weighted_layers(model_->named_parameters()), run_.data.val, steps_per_epoch_, log_every_, "monitor"),
        0);
    // Statistics of the weights now against those at construction; the first record stands for both.
    record_weights(true);
  }
  ++steps_;
  ++step_in_epoch_;
  pending_.push_back({indices, logits.requires_grad() ? logits.detach() : logits, labels, step_in_epoch_});
  loss_sum_ += loss * static_cast<double>(b);
  images_ += b;
  interval_loss_ += loss * static_cast<double>(b);
  interval_images_ += b;
  if (log_ && step_in_epoch_ % log_every_ == 0 && step_in_epoch_ < steps_per_epoch_) {
    flush_pending();
    record_weights(false);
  } else if (static_cast<int64_t>(pending_.size()) >= kMaxPendingBatches) {
    flush_pending();  // bounds the logits held (on the model's device) between records
  }
}

void RunMonitor::flush_pending() {
  if (pending_.empty()) return;
  const int64_t n = run_.data.train.size();
  const int64_t epoch = static_cast<int64_t>(metrics_.size()) + 1;
  std::vector<at::Tensor> is, zs, ys;
  for (const PendingBatch& p : pending_) {
    is.push_back(p.indices.to(at::kCPU, at::kLong));
    zs.push_back(p.logits.to(at::kCPU, at::kFloat));
    ys.push_back(p.labels.to(at::kCPU, at::kLong));
  }
  const at::Tensor idx = at::cat(is);
  const at::Tensor z = at::cat(zs);
  const at::Tensor y = at::cat(ys);
  // The first bad row names its batch's step; the monitor stops there, nothing of the epoch written.
  auto stop = [&](int64_t row, const std::string& what) {
    int64_t step = pending_.back().step;
    for (const PendingBatch& p : pending_) {
      if (row < p.indices.size(0)) {
        step = p.step;
        break;
      }
      row -= p.indices.size(0);
    }
    stopped_ = detail::concat("on_batch (step ", step, " of epoch ", epoch, "): ", what);
    pending_.clear();
    throw Error(stopped_);
  };
  const at::Tensor outside = (idx.lt(0) | idx.ge(n)).nonzero();
  if (outside.size(0) > 0) {
    const int64_t row = outside[0][0].item<int64_t>();
    stop(row, detail::concat("index ", idx[row].item<int64_t>(), " is outside train_set's ", n, " samples"));
  }
  const at::Tensor stored = run_.data.train.labels.index_select(0, idx);
  if (!y.equal(stored)) {
    const int64_t row = y.ne(stored).nonzero()[0][0].item<int64_t>();
    stop(row, detail::concat("label ", y[row].item<int64_t>(), " at index ", idx[row].item<int64_t>(),
                             " differs from train_set's ", stored[row].item<int64_t>(),
                             " (indices must be positions in train_set, in the order of the batch)"));
  }
  const at::Tensor finite = at::isfinite(z).all(1);
  if (!finite.all().item<bool>()) {
    const int64_t row = finite.logical_not().nonzero()[0][0].item<int64_t>();
    stop(row, "the logits hold NaN or infinite values");
  }
  // Batch by batch, in order: an index reported twice keeps its later logits, as the loop saw them.
  int64_t row = 0;
  for (const PendingBatch& p : pending_) {
    const int64_t b = p.indices.size(0);
    sample_logits_.index_copy_(0, idx.narrow(0, row, b), z.narrow(0, row, b));
    row += b;
  }
  seen_.index_fill_(0, idx, true);
  const int64_t right = z.argmax(1).eq(y).sum().item<int64_t>();
  correct_ += right;
  interval_correct_ += right;
  pending_.clear();
}

EpochMetrics RunMonitor::on_epoch_end(int64_t epoch) {
  check_open("on_epoch_end");
  const int64_t next = static_cast<int64_t>(metrics_.size()) + 1;
  FS_CHECK(epoch == next, "on_epoch_end(", epoch, "): the next epoch is ", next,
           " (epochs are numbered 1, 2, ... and each ends once)");
  FS_CHECK(images_ > 0, "on_epoch_end(", epoch, "): no batch was reported this epoch (call on_batch for each training step)");
  flush_pending();
  const RunLayout layout(run_dir_);
  const Dataset& train = run_.data.train;
  // Samples no batch reported (drop_last, a sampler): scored by the model as it is now.
  const at::Tensor unseen = seen_.logical_not().nonzero().view(-1);
  for (int64_t start = 0; start < unseen.numel(); start += 500) {
    const at::Tensor chunk = unseen.narrow(0, start, std::min<int64_t>(500, unseen.numel() - start));
    const at::Tensor x = make_input(train, run_.transform, chunk).to(model_->device());
    sample_logits_.index_copy_(0, chunk, model_->forward_probes(x, {}, true).logits.detach().to(at::kCPU, at::kFloat));
  }
  EpochMetrics m;
  m.epoch = epoch;
  m.train_loss = loss_sum_ / static_cast<double>(images_);
  m.train_acc = static_cast<double>(correct_) / static_cast<double>(images_);
  std::optional<Evaluation> v;
  if (run_.data.val.size() > 0) {
    v = evaluate(*model_, run_.data.val, run_.transform);
    m.val_loss = v->loss;
    m.val_acc = v->accuracy;
  } else {
    m.val_loss = m.val_acc = std::numeric_limits<double>::quiet_NaN();
  }
  m.seconds = now_seconds() - epoch_started_;

  SampleEpoch samples;
  if (options_.sample_log) {
    samples = sample_epoch_from_logits(epoch, sample_logits_, train.labels, train.indices);
    write_sample_epoch(run_dir_, samples);
  }
  if (log_) {
    metrics_.push_back(m);  // the epoch-end record counts this epoch
    record_weights(true);
    metrics_.pop_back();
    LogEpochMetrics lm;
    lm.epoch = epoch;
    lm.iteration = epoch * steps_per_epoch_;
    lm.train_loss = m.train_loss;
    lm.train_acc = m.train_acc;
    lm.val_loss = m.val_loss;
    lm.val_acc = m.val_acc;
    lm.seconds = m.seconds;
    EpochOutcomes outcomes;
    outcomes.epoch = epoch;
    if (v) outcomes = epoch_outcomes(epoch, *v);
    log_->add_epoch(lm, outcomes);
  }
  save_torchscript_model(*model_, layout.checkpoint(epoch));
  metrics_.push_back(m);
  write_metrics(run_dir_, metrics_);
  if (listener_) {
    EpochEnd end;
    end.metrics = &metrics_;
    end.samples = options_.sample_log ? &samples : nullptr;
    end.model = model_.get();
    listener_(end);
  }
  sample_logits_.zero_();
  seen_.zero_();
  loss_sum_ = 0;
  correct_ = 0;
  images_ = 0;
  step_in_epoch_ = 0;
  epoch_started_ = now_seconds();
  return m;
}

void RunMonitor::close() {
  check_open("close");
  if (log_) log_->close();
  if (options_.epochs < static_cast<int64_t>(metrics_.size())) {
    RunRecord r = read_run_record(run_dir_);
    r.settings.train.epochs = std::max<int64_t>(1, static_cast<int64_t>(metrics_.size()));
    write_file_atomic(RunLayout(run_dir_).run_json(), r.to_json().dump(2) + "\n");
  }
  closed_ = true;
}

}  // namespace filterscope
