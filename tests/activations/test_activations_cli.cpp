// `filterscope activations` and `filterscope ood` end to end on a small trained run: the files
// they write, their numbers against an independent computation on the same model and images, and
// one clear error or note for each kind of bad input.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "filterscope/activations/ood_scores.h"
#include "filterscope/activations/records.h"
#include "filterscope/io/npy.h"
#include "filterscope/runs/model_source.h"
#include "test_util.h"

namespace filterscope {
namespace {

using testing::read_json;
using testing::run_cli;
using testing::TempDir;
using testing::with;

// Six of the ten synthetic classes: the other four are the held-out OOD set.
const std::vector<std::string> kTrain = {"train", "--dataset", "synthetic", "--synthetic-size", "1500", "--classes",
                                         "0-5", "--train-size", "500", "--val-size", "120", "--epochs", "3", "--quiet"};

class PatternCommands : public testing::SuiteRun<PatternCommands> {
 protected:
  static void SetUpTestSuite() { train(kTrain); }
};

// The S1 frequencies of a layer computed here from the model's own probe outputs.
at::Tensor s1_frequencies(ModelSource& source, const Dataset& data, const std::string& layer) {
  at::NoGradGuard no_grad;
  const at::Tensor x = make_input(data, source.run.transform);
  const ProbeOutputs out = source.model->forward_probes(x, {layer}, false);
  at::Tensor v = out.outputs.at(0).second;
  if (v.dim() == 4) v = v.flatten(2).mean(2);
  const at::Tensor active = v.gt(0).to(at::kDouble);
  std::vector<at::Tensor> rows;
  for (int64_t c = 0; c < data.num_classes; ++c) rows.push_back(active.index_select(0, data.labels.eq(c).nonzero().view(-1)).mean(0));
  return at::stack(rows);
}

TEST_F(PatternCommands, ActivationsBesideTheInitialWeights) {
  const auto out = *dir_ / "act";
  const auto r = run_cli({"activations", run().string(), "--against-epoch", "0", "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const ActivationsRecord rec = read_activations_record(out / "activations.json");
  ASSERT_TRUE(rec.against.has_value());
  EXPECT_EQ(rec.against->epoch, 0);
  EXPECT_EQ(rec.class_names.size(), 6u);
  // simple-cnn's hidden layers: three ReLUs of maps and the classifier's ReLU.
  ASSERT_EQ(rec.layers.size(), 4u);
  EXPECT_EQ(rec.sets.size(), 2u);  // in and the inverted copy
  // Frequencies equal the share of each class's images in which the neuron's mean is positive.
  ModelSourceOptions options;
  options.path = run();
  ModelSource source = open_model_source(options, at::kCPU);
  for (const auto& layer : rec.layers) {
    const at::Tensor mine = read_npy(out / "frequencies" / (layer.name + ".npy"));
    ASSERT_EQ(mine.sizes(), (std::vector<int64_t>{6, layer.neurons}));
    EXPECT_LT((mine - s1_frequencies(source, source.run.data.val, layer.name)).abs().max().item<double>(), 1e-12)
        << layer.name;
    const at::Tensor hist = read_npy(out / "histograms" / (layer.name + ".npy"));
    EXPECT_EQ(hist.sizes(), (std::vector<int64_t>{6, 100}));
    EXPECT_TRUE(hist.sum(1).eq(layer.neurons).all().item<bool>());
  }
  // Divergences: the last three layers, four pairs, two significances, two models.
  EXPECT_EQ(rec.divergences.size(), 3u * 4 * 2 * 2);
  const at::Tensor kl = read_npy(out / "kl" / (rec.layers.back().name + ".npy"));
  EXPECT_EQ(kl.sizes(), (std::vector<int64_t>{6, 6}));
  EXPECT_LT(kl.diagonal().abs().max().item<double>(), 1e-12);
  EXPECT_GT(kl.min().item<double>(), -1e-12);
  EXPECT_TRUE(std::filesystem::exists(out / "against" / "kl" / (rec.layers.back().name + ".in-shift.npy")));
  // Interactions of both fully connected layers, with frequencies in [0, 1].
  int64_t interaction_layers = 0;
  for (const auto& i : rec.interactions)
    if (i.model == "model" && i.set == "in") {
      ++interaction_layers;
      ASSERT_TRUE(i.frequencies_file.has_value());
      const at::Tensor f = read_npy(out / *i.frequencies_file);
      EXPECT_EQ(f.sizes(), (std::vector<int64_t>{6, i.outputs, i.inputs}));
      EXPECT_GE(f.min().item<double>(), 0);
      EXPECT_LE(f.max().item<double>(), 1);
      EXPECT_DOUBLE_EQ(i.threshold, 1.0 / static_cast<double>(i.inputs));
    }
  EXPECT_EQ(interaction_layers, 2);
  EXPECT_TRUE(std::filesystem::exists(out / "activations.html"));
  // The same seed gives the same files.
  const auto again = *dir_ / "act-again";
  ASSERT_EQ(run_cli({"activations", run().string(), "--against-epoch", "0", "--out", again.string(), "--quiet"}).code, 0);
  EXPECT_TRUE(read_npy(again / "kl" / (rec.layers.back().name + ".s2.npy"))
                  .equal(read_npy(out / "kl" / (rec.layers.back().name + ".s2.npy"))));
}

std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> head;
  std::stringstream h(line);
  for (std::string f; std::getline(h, f, ',');) head.push_back(f);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::stringstream l(line);
    std::map<std::string, std::string> row;
    size_t i = 0;
    for (std::string f; std::getline(l, f, ',');) row[head.at(i++)] = f;
    if (i < head.size()) row[head.at(i)] = "";
    rows.push_back(row);
  }
  return rows;
}

TEST_F(PatternCommands, OodDetectorsOnShiftedNoiseAndHeldOutImages) {
  const auto out = *dir_ / "ood";
  const auto r = run_cli({"ood", run().string(), "--sets", "invert,uniform,held-out", "--fit-images", "300",
                          "--knn-k", "5", "--gmm-images", "200", "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const OodRecord rec = read_ood_record(out / "ood.json");
  ASSERT_EQ(rec.detectors.size(), 9u);
  ASSERT_EQ(rec.ood_sets.size(), 3u);
  EXPECT_EQ(rec.ood_sets[2].name, "held-out");
  EXPECT_EQ(rec.fit.images, 300);
  EXPECT_GT(rec.gmm_filters, 0);
  const auto rows = read_csv(out / "ood_scores.csv");
  ASSERT_EQ(rows.size(), static_cast<size_t>(rec.in_distribution.images + rec.ood_sets[0].images +
                                             rec.ood_sets[1].images + rec.ood_sets[2].images));
  // The maximum softmax probability of the in-distribution rows from the model's logits here.
  ModelSourceOptions options;
  options.path = run();
  ModelSource source = open_model_source(options, at::kCPU);
  at::Tensor logits;
  {
    at::NoGradGuard no_grad;
    logits = source.model->forward_probes(make_input(source.run.data.val, source.run.transform), {}, true).logits;
  }
  // Softmax's largest probability straight from ATen, not the detector's own function.
  const at::Tensor msp = std::get<0>(at::softmax(logits.to(at::kDouble), 1).max(1));
  for (int64_t i = 0; i < source.run.data.val.size(); ++i) {
    ASSERT_EQ(rows[static_cast<size_t>(i)].at("set"), "in");
    ASSERT_EQ(std::stoll(rows[static_cast<size_t>(i)].at("index")), source.run.data.val.indices[i].item<int64_t>());
    EXPECT_NEAR(std::stod(rows[static_cast<size_t>(i)].at("msp")), msp[i].item<double>(), 1e-6);
  }
  // The metrics in ood.json follow from the scores in the CSV, by the definitions rather than the
  // library's curve: AUROC is the share of (in, OOD) pairs the score orders right (ties half), FPR95
  // the smallest share of OOD images kept by a threshold that keeps at least 95 % of the in-distribution.
  // (check_ood_reference.py compares the same with scikit-learn.)
  for (const auto& d : rec.detectors)
    for (const auto& s : d.sets) {
      std::vector<double> id, ood;
      for (const auto& row : rows) {
        const double v = row.at(d.name) == "-inf" ? -INFINITY : std::stod(row.at(d.name));
        if (row.at("set") == "in") id.push_back(v);
        else if (row.at("set") == s.set) ood.push_back(v);
      }
      double right = 0;
      for (double a : id)
        for (double b : ood) right += a > b ? 1.0 : a == b ? 0.5 : 0.0;
      const double auroc = right / static_cast<double>(id.size() * ood.size());
      double fpr95 = 1;
      for (double t : id) {
        const double kept_in = static_cast<double>(std::count_if(id.begin(), id.end(), [&](double v) { return v >= t; }));
        const double kept_out = static_cast<double>(std::count_if(ood.begin(), ood.end(), [&](double v) { return v >= t; }));
        if (kept_in / static_cast<double>(id.size()) >= 0.95) fpr95 = std::min(fpr95, kept_out / static_cast<double>(ood.size()));
      }
      EXPECT_NEAR(auroc, s.auroc, 1e-9) << d.name << " " << s.set;
      EXPECT_NEAR(fpr95, s.fpr95, 1e-9) << d.name << " " << s.set;
    }
  // Uniform noise is far from these images: every feature-space detector separates it.
  for (const auto& d : rec.detectors)
    if (d.name == "mahalanobis" || d.name == "knn") EXPECT_GT(d.sets[1].auroc, 0.9) << d.name;
  EXPECT_TRUE(std::filesystem::exists(out / "ood.html"));
  EXPECT_EQ(read_npy(out / "fit_indices.npy").size(0), 300);
}

TEST_F(PatternCommands, BadInputGetsOneClearError) {
  // An OOD dataset of another shape: a CIFAR-10 batch of two 3x32x32 images.
  const auto cifar = *dir_ / "cifar";
  std::filesystem::create_directories(cifar);
  testing::write_bytes(cifar / "data_batch_1.bin", std::string(2 * (1 + 3072), '\x01'));
  auto r = run_cli({"ood", run().string(), "--ood-dataset", "cifar10", "--ood-data-dir", cifar.string(), "--sets",
                    "uniform", "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("OOD set cifar10: images are 3x32x32 after the model's input transform, but the model takes 1x28x28"),
            std::string::npos)
      << r.err;
  r = run_cli({"ood", run().string(), "--ood-dataset", "mnist-json", "--ood-data-dir", (*dir_ / "nowhere").string(),
               "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_NE(r.err.find("--ood-dataset mnist-json (--ood-data-dir"), std::string::npos) << r.err;
  r = run_cli({"ood", run().string(), "--sets", "invert,sepia", "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_NE(r.err.find("--sets: unknown OOD set \"sepia\""), std::string::npos) << r.err;
  r = run_cli({"ood", run().string(), "--detectors", "msp,vim", "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_NE(r.err.find("--detectors: unknown detector \"vim\""), std::string::npos) << r.err;
  r = run_cli({"ood", run().string(), "--classes", "0-3", "--quiet"});
  EXPECT_NE(r.err.find("--classes is for TorchScript models"), std::string::npos) << r.err;
  r = run_cli({"activations", run().string(), "--layers", "features.99", "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_NE(r.err.find("--layers: "), std::string::npos) << r.err;
  r = run_cli({"activations", run().string(), "--against-epoch", "7", "--quiet", "--out", (*dir_ / "x").string()});
  EXPECT_NE(r.err.find("--against-epoch 7"), std::string::npos) << r.err;
}

TEST(PatternCommandNotes, SingleClassSetAndNoFullyConnectedLayers) {
  TempDir dir;
  // A model without fully connected layers, on a set of one class (a ten-class model's images of
  // class 2 only): the interactions are skipped and the divergences between classes too, each with
  // a note, and everything else is computed.
  const auto model = dir / "convonly.pt";
  ASSERT_EQ(testing::run_export_script({"convonly", model.string()}), 0);
  auto r = run_cli({"activations", model.string(), "--dataset", "synthetic", "--synthetic-size", "600", "--classes",
                    "2", "--val-size", "8", "--out", (dir / "act").string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const ActivationsRecord c = read_activations_record(dir / "act" / "activations.json");
  EXPECT_TRUE(c.interactions.empty());
  bool no_fc = false, one_class = false;
  for (const auto& n : c.notes) {
    no_fc = no_fc || n.find("no fully connected layers") != std::string::npos;
    one_class = one_class || n.find("one class only") != std::string::npos;
  }
  EXPECT_TRUE(no_fc);
  EXPECT_TRUE(one_class);
  EXPECT_EQ(c.layers.size(), 2u);
  for (const auto& d : c.divergences) EXPECT_TRUE(d.pair == "in-shift" || d.pair == "shift-in") << d.pair;
  EXPECT_FALSE(c.divergences.empty());
  // An empty class list is an error naming the flag.
  r = run_cli({"activations", model.string(), "--dataset", "synthetic", "--classes", ",", "--out",
               (dir / "x").string(), "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--classes"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace filterscope
