// A synthetic run the size the explorer must stay fast on: AlexNet (9,354 filters and units) on a
// 10-class dataset, E epochs logged L times an epoch, 10,000 validation images per epoch. run.json
// is a real one (synthetic dataset, alexnet); the log is written by the real RunLogWriter with
// seeded random-walk weight statistics and image outcomes, so serve reads exactly what train writes.
//   bench_synth_run_log OUT_DIR [epochs=100] [logs_per_epoch=10] [val_images=10000]
#include <chrono>
#include <cstdio>
#include <random>

#include "filterscope/core/error.h"
#include "filterscope/core/files.h"
#include "filterscope/runs/layout.h"
#include "filterscope/runs/run_log.h"
#include "filterscope/train/trainer.h"
#include "filterscope/train/weight_log.h"

using namespace filterscope;

int main(int argc, char** argv) {
  try {
    FS_CHECK(argc >= 2, "usage: bench_synth_run_log OUT_DIR [epochs] [logs_per_epoch] [val_images]");
    const std::filesystem::path out = argv[1];
    // Built beside and renamed at the end: a folder named OUT is always a whole log.
    const std::filesystem::path building = out.string() + ".partial";
    const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 100;
    const int64_t logs = argc > 3 ? std::atoll(argv[3]) : 10;
    const int64_t val = argc > 4 ? std::atoll(argv[4]) : 10000;
    FS_CHECK(!std::filesystem::exists(out), out.string(), ": exists; give a new folder");
    std::filesystem::remove_all(building);
    RunSettings s;
    s.data.dataset = "synthetic";
    s.data.synthetic_size = 6 * val + 1200;  // enough for the validation set whichever split it is drawn from
    s.split.train_size = 100;
    s.split.val_size = val;
    s.train.model = "alexnet";
    s.train.input_size = 67;  // the network's layers are AlexNet's; the side only sizes the first FC input
    const PreparedRun run = prepare_run(s);
    Network network = make_network("alexnet", run.data.train.channels(), run.data.train.num_classes, 67);
    ensure_directory(building);
    write_file_atomic(RunLayout(building).run_json(), describe_run(run, network).to_json().dump(1) + "\n");

    const RunLogSetup setup = run_log_setup(network, run.data.val, 10 * logs, 10, "bench");
    int64_t units = 0;
    for (const auto& l : setup.layers) units += l.units;
    std::fprintf(stderr, "synth: %zu layers, %lld units, %lld epochs x %lld records, %lld images\n", setup.layers.size(),
                 static_cast<long long>(units), static_cast<long long>(epochs), static_cast<long long>(logs),
                 static_cast<long long>(val));

    const auto t0 = std::chrono::steady_clock::now();
    std::mt19937_64 rng(7);
    std::normal_distribution<double> step(0.0, 1.0);
    RunLogWriter writer(RunLayout(building).run_log(), setup, 0);
    std::vector<std::vector<double>> norm(setup.layers.size());
    for (size_t l = 0; l < setup.layers.size(); ++l) norm[l].assign(static_cast<size_t>(setup.layers[l].units), 1.0);
    const auto record = [&](int64_t iteration) {
      WeightRecord r;
      r.iteration = iteration;
      r.epoch = static_cast<double>(iteration) / static_cast<double>(setup.steps_per_epoch);
      r.epoch_end = iteration % setup.steps_per_epoch == 0;
      r.train_loss = 2.3 / (1 + r.epoch);
      r.train_acc = 1 - 0.9 / (1 + r.epoch);
      for (size_t l = 0; l < setup.layers.size(); ++l) {
        LayerWeightStats st;
        st.units.resize(norm[l].size());
        for (size_t u = 0; u < norm[l].size(); ++u) {
          const double change = iteration == 0 ? 0.0 : 0.01 * std::abs(step(rng)) / (1 + 0.05 * r.epoch);
          norm[l][u] = std::max(0.01, norm[l][u] + change * (step(rng) > -0.3 ? 1 : -1));
          st.units[u] = {norm[l][u], 0.001 * step(rng), norm[l][u] / 30, change};
        }
        st.hist_lo = -0.2;
        st.hist_hi = 0.2;
        st.hist_counts.assign(kWeightHistogramBins, 0);
        for (int64_t k = 0; k < kWeightHistogramBins; ++k) st.hist_counts[static_cast<size_t>(k)] = 1000 + static_cast<int64_t>(100 * step(rng));
        r.layers.push_back(std::move(st));
      }
      writer.add_record(r);
    };
    record(0);
    // Each image is learned at its own epoch, and some are forgotten again or flip now and then.
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<double> learn(static_cast<size_t>(val)), flip(static_cast<size_t>(val));
    for (int64_t i = 0; i < val; ++i) {
      learn[static_cast<size_t>(i)] = -std::log(1 - unit(rng)) * 8;
      flip[static_cast<size_t>(i)] = unit(rng) < 0.2 ? 0.15 : 0.01;
    }
    for (int64_t e = 1; e <= epochs; ++e) {
      for (int64_t k = 1; k <= logs; ++k) record((e - 1) * setup.steps_per_epoch + k * setup.log_every);
      EpochOutcomes o;
      o.epoch = e;
      for (int64_t i = 0; i < val; ++i) {
        const int64_t label = setup.val_labels[static_cast<size_t>(i)];
        bool right = e >= learn[static_cast<size_t>(i)];
        if (unit(rng) < flip[static_cast<size_t>(i)]) right = !right;
        o.predicted.push_back(right ? label : (label + 1 + static_cast<int64_t>(unit(rng) * 9)) % 10);
        o.true_prob.push_back(right ? 0.5 + 0.5 * unit(rng) : 0.5 * unit(rng));
      }
      writer.add_epoch({e, e * setup.steps_per_epoch, 0.5, 0.8, 0.6, 0.7, 10.0}, o);
      if (e % 10 == 0) std::fprintf(stderr, "synth: epoch %lld/%lld\n", static_cast<long long>(e), static_cast<long long>(epochs));
    }
    writer.close();
    std::filesystem::rename(building, out);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"dir\": \"%s\", \"units\": %lld, \"records\": %lld, \"images\": %lld, \"bytes\": %lld, \"write_seconds\": %.1f}\n",
                out.c_str(), static_cast<long long>(units), static_cast<long long>(1 + epochs * logs), static_cast<long long>(val),
                static_cast<long long>(std::filesystem::file_size(RunLayout(out).run_log())), seconds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_synth_run_log: %s\n", describe_exception(e).c_str());
    return 1;
  }
}
