#include "filterscope/train/trainer.h"
#include "filterscope/runs/layout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>
#include <torch/utils.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <unordered_map>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/io/json.h"
#include "filterscope/core/progress.h"
#include "filterscope/core/runtime.h"
#include "filterscope/train/checkpoint.h"
#include "filterscope/train/sample_log.h"
#include "filterscope/train/weight_log.h"

namespace filterscope {

namespace fs = std::filesystem;

namespace {

at::Generator seeded_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// One seed per (run seed, epoch, purpose): resuming at epoch e replays exactly what epoch e would
// have drawn in an uninterrupted run.
uint64_t derived_seed(int64_t seed, int64_t epoch, uint64_t purpose) {
  uint64_t x = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ull + purpose;
  x ^= x >> 31;
  return x & ((1ull << 62) - 1);
}

std::string metrics_csv(const std::vector<EpochMetrics>& rows) {
  std::ostringstream out;
  out << "epoch,train_loss,train_acc,val_loss,val_acc,seconds\n";
  out << std::setprecision(9);
  for (const auto& m : rows)
    out << m.epoch << ',' << m.train_loss << ',' << m.train_acc << ',' << m.val_loss << ','
        << m.val_acc << ',' << std::setprecision(4) << m.seconds << std::setprecision(9) << '\n';
  return out.str();
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o, Network& network) {
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        network->parameters(),
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  return std::make_unique<torch::optim::Adam>(
      network->parameters(), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
}

int64_t input_side(const RunSettings& s, const Dataset& train) {
  if (s.train.input_size > 0) return s.train.input_size;
  FS_CHECK(train.height() == train.width() || s.train.model == "alexnet", train.name, ": images are ",
           train.height(), "x", train.width(), "; pass --input-size to resize them to a square");
  return network_input_size(s.train.model, train.height());
}

std::vector<int64_t> to_int64_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::vector<double> to_double_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

at::Tensor apply_label_noise(at::Tensor& labels, int64_t num_classes, double share, int64_t seed) {
  FS_CHECK(share >= 0 && share < 1, "--label-noise must be in [0, 1), got ", share);
  const int64_t n = labels.size(0);
  const int64_t count = static_cast<int64_t>(std::llround(share * static_cast<double>(n)));
  if (count == 0) return at::empty({0}, at::kLong);
  at::Generator gen = seeded_generator(derived_seed(seed, 0, 0x1abe1));
  at::Tensor positions = std::get<0>(at::randperm(n, gen, at::kLong).narrow(0, 0, count).sort());
  // An offset in [1, classes) guarantees the new label differs from the old one.
  at::Tensor offset = at::randint(1, num_classes, {count}, gen, at::kLong);
  at::Tensor old = labels.index_select(0, positions);
  labels.index_copy_(0, positions, (old + offset).remainder(num_classes));
  return positions;
}

void exclude_samples(PreparedRun& run, const std::vector<int64_t>& dataset_indices, const std::string& source) {
  Dataset& train = run.data.train;
  const std::vector<int64_t> indices = to_int64_vector(train.indices);
  std::unordered_map<int64_t, int64_t> position;
  for (size_t i = 0; i < indices.size(); ++i) position.emplace(indices[i], static_cast<int64_t>(i));
  std::vector<bool> drop(indices.size(), false);
  for (int64_t index : dataset_indices) {
    const auto it = position.find(index);
    FS_CHECK(it != position.end(), "--exclude ", source, ": dataset index ", index,
             " is not among the run's training samples");
    drop[static_cast<size_t>(it->second)] = true;
  }
  std::vector<int64_t> keep, new_position(indices.size(), -1);
  for (size_t i = 0; i < indices.size(); ++i)
    if (!drop[i]) {
      new_position[i] = static_cast<int64_t>(keep.size());
      keep.push_back(static_cast<int64_t>(i));
    }
  FS_CHECK(!keep.empty(), "--exclude ", source, ": leaves no training sample");
  // The label noise follows the samples that stay.
  const std::vector<int64_t> noisy = to_int64_vector(run.noisy_positions);
  const std::vector<int64_t> original = to_int64_vector(run.original_labels);
  std::vector<int64_t> kept_noisy, kept_original;
  for (size_t k = 0; k < noisy.size(); ++k)
    if (!drop[static_cast<size_t>(noisy[k])]) {
      kept_noisy.push_back(new_position[static_cast<size_t>(noisy[k])]);
      kept_original.push_back(original[k]);
    }
  train = subset(train, at::tensor(keep, at::kLong), train.name);
  run.noisy_positions = at::tensor(kept_noisy, at::kLong);
  run.original_labels = at::tensor(kept_original, at::kLong);
}

PreparedRun prepare_run(const RunSettings& settings) {
  // A monitored run's training options only describe the user's loop (its learning rate may be
  // unknown): they are recorded, not used.
  if (settings.train.model != "torchscript") validate_params(settings.train, TrainOptions::params());
  PreparedRun run;
  run.settings = settings;
  const DatasetSplits splits = load_dataset(settings.data);
  run.data = make_run_data(splits, settings.split);
  run.data.train.labels = run.data.train.labels.clone();
  at::Tensor before = run.data.train.labels.clone();
  run.noisy_positions = apply_label_noise(run.data.train.labels, run.data.train.num_classes,
                                          settings.train.label_noise, settings.train.seed);
  run.original_labels = before.index_select(0, run.noisy_positions);
  if (!settings.train.exclude.empty()) {
    const std::string& file = settings.train.exclude;
    // A folder opens as an empty stream and a file of text is all "header": both would exclude
    // nothing and train as if --exclude had not been given.
    FS_CHECK(std::filesystem::is_regular_file(file), "--exclude ", file,
             std::filesystem::exists(file) ? ": not a file (expected a file of dataset indices, one per line)"
                                           : ": no such file");
    const std::vector<int64_t> indices = read_index_list(file);
    FS_CHECK(!indices.empty(), "--exclude ", file, ": holds no dataset index (expected whole numbers, one per line)");
    exclude_samples(run, indices, file);
  }
  // A monitored run's model takes its images as they are (the loop's own size).
  const int64_t side = settings.train.model == "torchscript" ? 0 : input_side(settings, run.data.train);
  const bool needs_resize = side > 0 && (run.data.train.height() != side || run.data.train.width() != side);
  run.transform = fit_normalisation(run.data.train, needs_resize ? side : 0);
  return run;
}

RunRecord describe_run(const PreparedRun& run, const Network& network) {
  const auto to_vector = to_int64_vector;
  RunRecord r;
  r.settings = run.settings;
  r.dataset.name = run.settings.data.dataset;
  r.dataset.num_classes = run.data.train.num_classes;
  r.dataset.class_names = run.data.train.class_names;
  r.dataset.image_shape = {run.data.train.channels(), run.data.train.height(), run.data.train.width()};
  r.dataset.normalisation = run.transform;
  r.dataset.train_split = run.data.train.name;
  r.dataset.val_split = run.data.val.name;
  r.dataset.train_indices = to_vector(run.data.train.indices);
  r.dataset.val_indices = to_vector(run.data.val.indices);
  r.label_noise.share = run.settings.train.label_noise;
  r.label_noise.count = run.noisy_positions.numel();
  r.label_noise.dataset_indices = to_vector(run.data.train.indices.index_select(0, run.noisy_positions));
  r.label_noise.original_labels = to_vector(run.original_labels);
  r.label_noise.new_labels = to_vector(run.data.train.labels.index_select(0, run.noisy_positions));
  r.network.name = network->name();
  r.network.in_channels = network->in_channels();
  r.network.num_classes = network->num_classes();
  r.network.input_size = network->input_size();
  for (const auto& p : network->parameters()) r.network.parameters += p.numel();
  // The probe points with maps, the ones the GMM analysis takes (2-D probes are listed by the model).
  for (const auto& p : network->probe_points())
    if (p.is_map()) r.network.probe_points.push_back({p.name, probe_kind_name(p.kind), p.owner_conv, p.channels});
  return r;
}

void write_metrics(const fs::path& run_dir, const std::vector<EpochMetrics>& rows) {
  write_file_atomic(RunLayout(run_dir).metrics_csv(), metrics_csv(rows));
}

std::vector<EpochMetrics> read_metrics(const fs::path& run_dir) {
  std::vector<EpochMetrics> rows;
  std::ifstream in(RunLayout(run_dir).metrics_csv());
  if (!in) return rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    EpochMetrics m;
    long long epoch = 0;
    if (std::sscanf(line.c_str(), "%lld,%lf,%lf,%lf,%lf,%lf", &epoch, &m.train_loss, &m.train_acc,
                    &m.val_loss, &m.val_acc, &m.seconds) != 6)
      throw Error(detail::concat((RunLayout(run_dir).metrics_csv()).string(), ": malformed row \"", line, "\""));
    m.epoch = epoch;
    rows.push_back(m);
  }
  return rows;
}

Evaluation evaluate(ProbedModel& model, const Dataset& data, const InputTransform& transform, int64_t batch_size) {
  const c10::Device device = model.device();
  Evaluation out;
  out.predictions = at::empty({data.size()}, at::kLong);
  out.true_probs = at::empty({data.size()}, at::kDouble);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    at::Tensor positions = at::arange(start, start + count, at::kLong);
    at::Tensor x = make_input(data, transform, positions).to(device);
    at::Tensor y = data.labels.narrow(0, start, count).to(device);
    at::Tensor logits = model.forward_probes(x, {}, true).logits;
    FS_CHECK(logits.defined(), model.description(), ": the model's output is not [N, classes] logits");
    torch::NoGradGuard no_grad;
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    at::Tensor predicted = logits.argmax(1);
    correct += predicted.eq(y).sum().item<int64_t>();
    out.predictions.narrow(0, start, count).copy_(predicted.cpu());
    out.true_probs.narrow(0, start, count).copy_(logits.softmax(1).gather(1, y.unsqueeze(1)).squeeze(1).cpu());
  }
  out.loss = loss_sum / std::max<int64_t>(1, data.size());
  out.accuracy = static_cast<double>(correct) / std::max<int64_t>(1, data.size());
  return out;
}

Evaluation evaluate(Network& network, const Dataset& data, const InputTransform& transform,
                    const c10::Device& device, int64_t batch_size) {
  FS_ASSERT(network->parameters().front().device() == device, "evaluate: the network is not on ", device);
  auto model = probed_network(network);
  return evaluate(*model, data, transform, batch_size);
}

SampleEpoch sample_epoch_from_logits(int64_t epoch, const at::Tensor& logits, const at::Tensor& labels,
                                     const at::Tensor& dataset_indices) {
  torch::NoGradGuard no_grad;
  const at::Tensor z = logits.to(at::kDouble);
  const at::Tensor y = labels.to(z.device()).unsqueeze(1);
  const at::Tensor own = z.gather(1, y).squeeze(1);
  const at::Tensor others = z.scatter(1, y, -std::numeric_limits<double>::infinity());
  SampleEpoch samples;
  samples.epoch = epoch;
  samples.dataset_index = to_int64_vector(dataset_indices);
  samples.label = to_int64_vector(labels);
  samples.prediction = to_int64_vector(z.argmax(1));
  samples.loss = to_double_vector(at::logsumexp(z, 1) - own);
  samples.margin = to_double_vector(own - std::get<0>(others.max(1)));
  return samples;
}

int64_t log_interval(int64_t log_every, int64_t steps_per_epoch) {
  return log_every > 0 ? log_every : std::max<int64_t>(1, (steps_per_epoch + 3) / 4);
}

TrainResult train_run(const PreparedRun& run, const fs::path& run_dir, const TrainRunOptions& options) {
  const TrainOptions& o = run.settings.train;
  validate_params(o, TrainOptions::params());
  configure_threads(o.threads);
  const c10::Device device = parse_device(o.device);
  const Dataset& train = run.data.train;
  const Dataset& val = run.data.val;
  FS_CHECK(train.size() > 0, "no training samples");
  if (train.num_classes < 2) {
    // Name the data, not the network that cannot be built for one class.
    const DataOptions& d = run.settings.data;
    const std::string source = !d.classes.empty() ? "--classes " + d.classes
                               : !d.data_dir.empty() ? "--data-dir " + d.data_dir
                                                     : "--dataset " + d.dataset;
    throw Error(detail::concat(source, ": the training data has ", train.num_classes, " class",
                               train.num_classes == 1 ? " (" + train.class_names.at(0) + ")" : std::string("es"),
                               "; training a classifier needs at least two",
                               d.dataset == "folder" ? " (one sub-folder per class)" : ""));
  }

  const fs::path run_json = RunLayout(run_dir).run_json();
  if (!options.resume) {
    FS_CHECK(!fs::exists(run_json) && list_checkpoint_epochs(run_dir).empty() &&
                 !fs::exists(RunLayout(run_dir).initial_checkpoint()),
             run_dir.string(),
             ": already holds a run; pass --resume to continue it or choose another --out");
  }
  ensure_directory(RunLayout(run_dir).checkpoints_dir());

  torch::manual_seed(static_cast<uint64_t>(o.seed));
  const int64_t side = run.transform.resize > 0 ? run.transform.resize : train.height();
  Network network = make_network(o.model, train.channels(), train.num_classes, side);
  network->to(device);
  auto optimizer = make_optimizer(o, network);

  TrainResult result;
  int64_t start_epoch = 1;
  if (options.resume) {
    // The last checkpoint that loads completely; a truncated one (killed while saving by an older
    // tool, or damaged) is skipped with a warning rather than ending the resume.
    // A checkpoint counts once its metrics row exists too (the row is written second).
    const auto rows = read_metrics(run_dir);
    int64_t complete_rows = 0;
    while (complete_rows < static_cast<int64_t>(rows.size()) &&
           rows[static_cast<size_t>(complete_rows)].epoch == complete_rows + 1)
      ++complete_rows;
    auto epochs = list_checkpoint_epochs(run_dir);
    for (auto it = epochs.rbegin(); it != epochs.rend(); ++it) {
      if (*it > complete_rows) continue;
      try {
        load_checkpoint_into(checkpoint_path(run_dir, *it), network, optimizer.get());
        start_epoch = *it + 1;
        break;
      } catch (const Error& e) {
        std::fprintf(stderr, "warning: skipping %s\n", e.what());
      }
    }
    result.metrics.assign(rows.begin(), rows.begin() + (start_epoch - 1));
    if (start_epoch > 1)
      std::fprintf(stderr, "resuming %s from epoch %lld\n", run_dir.c_str(),
                   static_cast<long long>(start_epoch - 1));
  }
  if (!fs::exists(run_json)) {
    write_file_atomic(run_json, describe_run(run, network).to_json().dump(2) + "\n");
  } else {
    // The same settings can name an --exclude file that has changed since the run began.
    FS_CHECK(read_run_record(run_dir).dataset.train_indices == describe_run(run, network).dataset.train_indices,
             run_json.string(), ": the run's training samples differ from those the settings give now (did the ",
             "--exclude file change?); start a new run");
  }
  const auto checkpoint_info = [&](int64_t epoch) {
    CheckpointInfo info;
    info.epoch = epoch;
    info.network = network->name();
    info.in_channels = network->in_channels();
    info.num_classes = network->num_classes();
    info.input_size = network->input_size();
    info.settings = run.settings.to_json();
    return info;
  };
  // The initial weights, kept so that a trained network can be set beside its untrained self
  // (`filterscope activations --against-epoch 0`). Saving draws no random numbers.
  if (start_epoch == 1 && !fs::exists(RunLayout(run_dir).initial_checkpoint()))
    save_checkpoint(RunLayout(run_dir).initial_checkpoint(), network, optimizer.get(), checkpoint_info(0));
  result.first_epoch_trained = start_epoch;

  // The run log: weights every log_interval steps and at each epoch end, validation outcomes per
  // epoch. Epoch-end rows go in before the checkpoint, so a resume (which drops the rows of the
  // epochs it replays) never leaves a gap.
  const int64_t steps_per_epoch = (train.size() + o.batch_size - 1) / o.batch_size;
  std::unique_ptr<RunLogWriter> log;
  int64_t log_every = log_interval(options.log_every, steps_per_epoch);
  if (options.run_log) {
    log = std::make_unique<RunLogWriter>(RunLayout(run_dir).run_log(),
                                         run_log_setup(network, val, steps_per_epoch, log_every, "train"), start_epoch - 1);
    FS_CHECK(log->setup().steps_per_epoch == steps_per_epoch, RunLayout(run_dir).run_log().string(),
             ": logged ", log->setup().steps_per_epoch, " steps an epoch, this run takes ", steps_per_epoch);
    log_every = log->setup().log_every;
  }
  std::unique_ptr<WeightStatsRecorder> recorder;
  if (log) {
    recorder = std::make_unique<WeightStatsRecorder>(network);
    if (start_epoch == 1 && !log->has_record(0)) {
      WeightRecord initial;
      initial.epoch_end = true;
      initial.layers = recorder->record();
      log->add_record(initial);
    }
  }

  // Normalised training images at their own size, once; resizing (if any) happens per batch.
  InputTransform native = run.transform;
  native.resize = 0;
  const at::Tensor train_x = make_input(train, native).to(device);
  const at::Tensor train_y = train.labels.to(device);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  double train_seconds = 0;
  int64_t train_images = 0;

  for (int64_t epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    torch::manual_seed(derived_seed(o.seed, epoch, 0xd20));
    at::Generator shuffle = seeded_generator(derived_seed(o.seed, epoch, 0x5f1e));
    const at::Tensor order = at::randperm(train.size(), shuffle, at::kLong).to(device);
    network->train();
    Progress bar("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), train.size(),
                 "img", options.progress && tty);
    at::Tensor loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
    at::Tensor interval_loss = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor interval_correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
    // Every sample's logits in this epoch's training pass, by training position: one copy a step;
    // loss, margin and prediction follow at the epoch's end in one pass.
    at::Tensor sample_logits;
    if (options.sample_log)
      sample_logits = at::zeros({train.size(), train.num_classes}, at::TensorOptions().dtype(at::kFloat).device(device));
    int64_t interval_images = 0, step = 0;
    const auto log_weights = [&](bool epoch_end) {
      WeightRecord r;
      r.iteration = (epoch - 1) * steps_per_epoch + step;
      r.epoch = static_cast<double>(epoch - 1) + static_cast<double>(step) / static_cast<double>(steps_per_epoch);
      r.epoch_end = epoch_end;
      if (interval_images > 0) {
        r.train_loss = interval_loss.item<double>() / static_cast<double>(interval_images);
        r.train_acc = static_cast<double>(interval_correct.item<int64_t>()) / static_cast<double>(interval_images);
      }
      r.layers = recorder->record();
      log->add_record(r);
      interval_loss.zero_();
      interval_correct.zero_();
      interval_images = 0;
    };
    for (int64_t start = 0; start < train.size(); start += o.batch_size) {
      const int64_t count = std::min(o.batch_size, train.size() - start);
      const at::Tensor idx = order.narrow(0, start, count);
      at::Tensor x = train_x.index_select(0, idx);
      if (run.transform.resize > 0)
        x = at::upsample_bicubic2d(x, {run.transform.resize, run.transform.resize}, false);
      const at::Tensor y = train_y.index_select(0, idx);
      optimizer->zero_grad();
      at::Tensor logits = network->forward(x);
      at::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      optimizer->step();
      {
        torch::NoGradGuard no_grad;
        const at::Tensor batch_loss = loss.detach().to(at::kDouble) * count;
        const at::Tensor predicted = logits.argmax(1);
        const at::Tensor batch_correct = predicted.eq(y).sum();
        if (options.sample_log) sample_logits.index_copy_(0, idx, logits.detach().to(at::kFloat));
        loss_sum += batch_loss;
        correct += batch_correct;
        if (log) {
          interval_loss += batch_loss;
          interval_correct += batch_correct;
          interval_images += count;
        }
      }
      ++step;
      if (log && step % log_every == 0 && step < steps_per_epoch) log_weights(false);
      if (tty && options.progress) bar.advance(count);
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = loss_sum.item<double>() / train.size();
    m.train_acc = static_cast<double>(correct.item<int64_t>()) / train.size();
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    train_images += train.size();
    const Evaluation v = evaluate(network, val, run.transform, device);
    m.val_loss = v.loss;
    m.val_acc = v.accuracy;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (tty && options.progress) bar.finish();

    if (log) {
      log_weights(true);
      LogEpochMetrics lm;
      lm.epoch = epoch;
      lm.iteration = epoch * steps_per_epoch;
      lm.train_loss = m.train_loss;
      lm.train_acc = m.train_acc;
      lm.val_loss = m.val_loss;
      lm.val_acc = m.val_acc;
      lm.seconds = m.seconds;
      log->add_epoch(lm, epoch_outcomes(epoch, v));
    }
    SampleEpoch samples;
    if (options.sample_log) {
      samples = sample_epoch_from_logits(epoch, sample_logits, train_y, train.indices);
      write_sample_epoch(run_dir, samples);  // before the checkpoint, as the run log's rows
    }
    const CheckpointInfo info = checkpoint_info(epoch);
    // Checkpoint first, then the metrics row: a metrics row never exists without its checkpoint.
    save_checkpoint(checkpoint_path(run_dir, epoch), network, optimizer.get(), info);
    result.metrics.push_back(m);
    write_metrics(run_dir, result.metrics);
    if (options.progress) {
      std::fprintf(stderr,
                   "epoch %3lld/%lld  train loss %.4f acc %5.1f%%  val loss %.4f acc %5.1f%%  %.1fs\n",
                   static_cast<long long>(epoch), static_cast<long long>(o.epochs), m.train_loss,
                   100 * m.train_acc, m.val_loss, 100 * m.val_acc, m.seconds);
    }
    if (options.on_epoch_end) {
      auto model = probed_network(network);
      EpochEnd end;
      end.metrics = &result.metrics;
      end.samples = options.sample_log ? &samples : nullptr;
      end.model = model.get();
      options.on_epoch_end(end);
    }
  }
  if (log) log->close();
  result.images_per_second = train_seconds > 0 ? train_images / train_seconds : 0.0;
  return result;
}

}  // namespace filterscope
