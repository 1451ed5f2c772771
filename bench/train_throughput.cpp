// Training throughput of filterscope's trainer against a bare LibTorch loop over the same network
// (simple-cnn), data (a Fashion-MNIST subset), optimiser and batch size, in one process.
//   bench_train_throughput [train_size] [epochs] [rounds]
// Prints one JSON line: images/s of each (training steps only, and whole epochs for filterscope:
// evaluation and checkpoint included), median over rounds, and the ratio.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "filterscope/core/error.h"
#include "filterscope/core/runtime.h"
#include "filterscope/train/trainer.h"

using namespace filterscope;

namespace {

double bare_loop(const at::Tensor& x, const at::Tensor& y, int64_t epochs, int64_t batch) {
  torch::manual_seed(0);
  namespace nn = torch::nn;
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 3)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(nn::Conv2dOptions(32, 64, 3)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(nn::Conv2dOptions(64, 64, 3)), nn::ReLU(), nn::Flatten(),
                     nn::Linear(576, 64), nn::ReLU(), nn::Linear(64, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t n = x.size(0);
  double seconds = 0;
  for (int64_t e = 0; e < epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    at::Tensor order = torch::randperm(n);
    for (int64_t s = 0; s < n; s += batch) {
      at::Tensor idx = order.narrow(0, s, std::min(batch, n - s));
      opt.zero_grad();
      at::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x.index_select(0, idx)), y.index_select(0, idx));
      loss.backward();
      opt.step();
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return n * epochs / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    tune_allocator();
    const int threads = configure_threads(0);
    const int64_t train_size = argc > 1 ? std::atoll(argv[1]) : 2000;
    const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 3;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    RunSettings s;
    s.split.train_size = train_size;
    s.split.val_size = 2000;
    s.train.epochs = epochs;
    s.train.batch_size = 32;
    const PreparedRun run = prepare_run(s);
    InputTransform native = run.transform;
    const at::Tensor x = make_input(run.data.train, native);
    const at::Tensor y = run.data.train.labels;

    // The defaults (the run log: RUN/run.sqlite, four weight records an epoch and every validation
    // outcome; the per-sample records: RUN/samples/), without the run log, and without the
    // per-sample records, alternating within each round.
    std::vector<double> bare, ours_steps, ours_epochs, nolog_steps, nolog_epochs, nosamples_steps, nosamples_epochs;
    for (int r = 0; r < rounds; ++r) {
      bare.push_back(bare_loop(x, y, epochs, 32));
      for (const int variant : {0, 1, 2}) {
        const auto dir = std::filesystem::temp_directory_path() / ("fs-bench-train-" + std::to_string(r));
        std::filesystem::remove_all(dir);
        TrainRunOptions o;
        o.progress = false;
        o.run_log = variant != 1;
        o.sample_log = variant != 2;
        const auto t0 = std::chrono::steady_clock::now();
        const TrainResult result = train_run(run, dir, o);
        const double whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        auto& steps = variant == 0 ? ours_steps : variant == 1 ? nolog_steps : nosamples_steps;
        auto& epochs_out = variant == 0 ? ours_epochs : variant == 1 ? nolog_epochs : nosamples_epochs;
        steps.push_back(result.images_per_second);
        epochs_out.push_back(train_size * epochs / whole);
        std::filesystem::remove_all(dir);
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    nlohmann::json out = {{"network", "simple-cnn"},
                          {"dataset", "fashion-mnist"},
                          {"train_size", train_size},
                          {"epochs", epochs},
                          {"batch_size", 32},
                          {"threads", threads},
                          {"rounds", rounds},
                          {"bare_loop_images_per_s", median(bare)},
                          {"filterscope_train_steps_images_per_s", median(ours_steps)},
                          {"filterscope_whole_epochs_images_per_s", median(ours_epochs)},
                          {"ratio_steps", median(ours_steps) / median(bare)},
                          {"no_run_log_steps_images_per_s", median(nolog_steps)},
                          {"no_run_log_whole_epochs_images_per_s", median(nolog_epochs)},
                          {"run_log_cost_steps", 1 - median(ours_steps) / median(nolog_steps)},
                          {"run_log_cost_whole_epochs", 1 - median(ours_epochs) / median(nolog_epochs)},
                          {"no_sample_log_steps_images_per_s", median(nosamples_steps)},
                          {"no_sample_log_whole_epochs_images_per_s", median(nosamples_epochs)},
                          {"sample_log_cost_steps", 1 - median(ours_steps) / median(nosamples_steps)},
                          {"sample_log_cost_whole_epochs", 1 - median(ours_epochs) / median(nosamples_epochs)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_throughput: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
