// filterscope hierarchy: the category hierarchy and minimum spanning tree of a model's classes,
// and the filter prediction tree of one class (Dai, section 3).
#include <cstdio>
#include <memory>

#include "analysis_flags.h"
#include "commands.h"
#include "filterscope/explain/explain_runs.h"
#include "filterscope/report/explain_pages.h"

namespace filterscope::cli {

namespace {

struct HierarchyArgs {
  std::string model;
  ModelSourceOptions source;
  HierarchyRequest request;
  std::string out;
  RuntimeOptions runtime;
};

void print_hierarchy(const HierarchyRecord& r) {
  std::printf("\ncategory hierarchy at %s (merges, closest first):\n", r.layer.c_str());
  std::function<std::string(int64_t)> name = [&](int64_t id) {
    const HierarchyNode& n = r.hierarchy.nodes[static_cast<size_t>(id)];
    return n.children.empty() ? n.label : "(" + name(n.children[0]) + ", " + name(n.children[1]) + ")";
  };
  for (const auto& n : r.hierarchy.nodes)
    if (!n.children.empty())
      std::printf("  %.4f  %s + %s\n", n.height, name(n.children[0]).c_str(), name(n.children[1]).c_str());
  std::printf("\nminimum spanning tree, total weight %.4f:\n", r.hierarchy.mst_weight);
  for (const auto& e : r.hierarchy.mst)
    std::printf("  %-14s - %-14s %.4f\n", r.labels[static_cast<size_t>(e.a)].c_str(), r.labels[static_cast<size_t>(e.b)].c_str(),
                e.weight);
  int64_t merges = 0;
  for (const auto& n : r.tree.nodes) merges += n.critical.has_value();
  std::printf("\nprediction tree of %s at %s: %zu images, %lld merges with a critical filter\n",
              r.labels[static_cast<size_t>(r.tree_class)].c_str(), r.tree_layer.c_str(), r.tree_images.size(),
              static_cast<long long>(merges));
  for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

void register_hierarchy(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<HierarchyArgs>();
  CLI::App* sub = app.add_subcommand(
      "hierarchy",
      "How a model's classes group in its own representation (Dai, section 3): one representative vector per class "
      "(the mean of a probe point's outputs over the class's images), the greedy merge of the closest pair by "
      "1/2 (1 - cos) into a hierarchy (Algorithm 1), the minimum spanning tree of the classes, and the filter "
      "prediction tree of one class (Algorithm 2) with each merge's critical filter and its top images. Writes "
      "hierarchy.json, tree-CLASS.json, representatives.npy, distances.npy and hierarchy.html.");
  add_model_flags(sub, args->model, args->source);
  add_params(sub, args->request.hierarchy, HierarchyOptions::params());
  add_params(sub, args->request.set, EvalSetOptions::params());
  sub->add_option("--out", args->out,
                  "folder of the results; default RUN/analysis/epoch-NNN/hierarchy, or <model stem>-analysis/hierarchy");
  add_runtime_flags(sub, args->runtime);
  add_example(sub, "filterscope hierarchy runs/fmnist --images 10000 --noise-class 500 --tree-class Sneaker");
  sub->callback([&commands, sub, args] {
    commands.action = [sub, args] {
      auto [source, out] = open_command_model(sub, args->model, args->source, apply_runtime(args->runtime), args->out,
                                              "hierarchy");
      const HierarchyRecord record = run_hierarchy(source, args->request, out, stderr_log("hierarchy", args->runtime.quiet));
      const std::filesystem::path page = write_hierarchy_page(record, out);
      print_hierarchy(record);
      std::printf("\nwrote %s (hierarchy.json, tree-%lld.json, representatives.npy, distances.npy) and %s\n",
                  out.string().c_str(), static_cast<long long>(record.tree_class), page.filename().string().c_str());
    };
  });
}

}  // namespace filterscope::cli
