#include "filterscope/explain/hierarchy.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "filterscope/core/error.h"

namespace filterscope {

at::Tensor class_representatives(ProbedModel& model, const Dataset& data, const InputTransform& transform,
                                 const std::string& layer, int64_t batch_size, const std::string& means_layer,
                                 at::Tensor* channel_means) {
  model.probe(layer);
  const bool means = channel_means != nullptr && !means_layer.empty();
  std::vector<std::string> probes = {layer};
  if (means && means_layer != layer) probes.push_back(means_layer);
  std::vector<std::string> ordered;  // forward order
  for (const auto& p : model.probe_points())
    if (std::find(probes.begin(), probes.end(), p.name) != probes.end()) ordered.push_back(p.name);
  std::vector<at::Tensor> image_means;
  at::Tensor sums, counts = at::zeros({data.num_classes}, at::kLong);
  at::NoGradGuard no_grad;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    const at::Tensor x = make_input(data, transform, at::arange(start, start + count, at::kLong)).to(model.device());
    const ProbeOutputs out = model.forward_probes(x, ordered, false);
    at::Tensor a, m;
    for (const auto& [name, t] : out.outputs) {
      if (name == layer) a = t.to(at::kCPU).flatten(1).to(at::kDouble);
      if (means && name == means_layer) m = t.to(at::kCPU).flatten(2).mean(2).to(at::kDouble);
    }
    if (means) image_means.push_back(m);
    const at::Tensor labels = data.labels.narrow(0, start, count);
    if (!sums.defined()) sums = at::zeros({data.num_classes, a.size(1)}, at::kDouble);
    sums.index_add_(0, labels, a);
    counts.index_add_(0, labels, at::ones_like(labels));
  }
  for (int64_t c = 0; c < data.num_classes; ++c)
    FS_CHECK(counts[c].item<int64_t>() > 0, "class ", c,
             c < static_cast<int64_t>(data.class_names.size()) ? " (" + data.class_names[c] + ")" : std::string(),
             " has no images in ", data.name, ": its representative vector is undefined (use more --images)");
  if (means) *channel_means = at::cat(image_means);
  return sums / counts.to(at::kDouble).unsqueeze(1);
}

at::Tensor cosine_distances(const at::Tensor& vectors) {
  const at::Tensor v = vectors.to(at::kDouble);
  const at::Tensor norm = v.norm(2, {1}, true);
  const at::Tensor unit = at::where(norm.gt(0), v / norm.clamp_min(1e-300), at::zeros_like(v));
  at::Tensor d = 0.5 * (1 - at::matmul(unit, unit.t()));
  d.fill_diagonal_(0);
  return d.clamp_min(0);
}

CategoryHierarchy build_hierarchy(const at::Tensor& distances, const std::vector<std::string>& labels) {
  const int64_t k = distances.size(0);
  FS_CHECK(k >= 2, "the hierarchy needs at least 2 categories, got ", k);
  FS_CHECK(static_cast<int64_t>(labels.size()) == k, "one label per category");
  const at::Tensor dc = distances.to(at::kDouble).contiguous();
  std::vector<std::vector<double>> d(static_cast<size_t>(k), std::vector<double>(static_cast<size_t>(k)));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) d[i][j] = dc[i][j].item<double>();
  CategoryHierarchy h;
  for (int64_t i = 0; i < k; ++i) h.nodes.push_back({i, labels[static_cast<size_t>(i)], {}, 0.0, 1});
  // Current nodes and their distances (by node id).
  std::vector<int64_t> active;
  for (int64_t i = 0; i < k; ++i) active.push_back(i);
  std::vector<std::vector<double>> dist = d;
  auto grow = [&]() {
    for (auto& row : dist) row.push_back(0);
    dist.emplace_back(dist.size() + 1, 0.0);
  };
  while (active.size() > 1) {
    double best = std::numeric_limits<double>::infinity();
    size_t bi = 0, bj = 1;
    for (size_t i = 0; i < active.size(); ++i)
      for (size_t j = i + 1; j < active.size(); ++j)
        if (dist[active[i]][active[j]] < best) {
          best = dist[active[i]][active[j]];
          bi = i;
          bj = j;
        }
    const int64_t a = active[bi], b = active[bj];
    const int64_t id = static_cast<int64_t>(h.nodes.size());
    grow();
    for (int64_t other : active) {
      if (other == a || other == b) continue;
      dist[id][other] = dist[other][id] = (dist[a][other] + dist[b][other]) / 2;
    }
    h.nodes.push_back({id, "", {a, b}, best, h.nodes[a].leaves + h.nodes[b].leaves});
    active.erase(active.begin() + static_cast<std::ptrdiff_t>(bj));
    active.erase(active.begin() + static_cast<std::ptrdiff_t>(bi));
    active.push_back(id);
  }
  // Prim's minimum spanning tree of the leaves' dense graph.
  std::vector<bool> in(static_cast<size_t>(k), false);
  std::vector<double> key(static_cast<size_t>(k), std::numeric_limits<double>::infinity());
  std::vector<int64_t> parent(static_cast<size_t>(k), -1);
  key[0] = 0;
  for (int64_t round = 0; round < k; ++round) {
    int64_t u = -1;
    for (int64_t i = 0; i < k; ++i)
      if (!in[i] && (u < 0 || key[i] < key[u])) u = i;
    in[u] = true;
    if (parent[u] >= 0) {
      h.mst.push_back({std::min(u, parent[u]), std::max(u, parent[u]), d[u][parent[u]]});
      h.mst_weight += d[u][parent[u]];
    }
    for (int64_t v = 0; v < k; ++v)
      if (!in[v] && d[u][v] < key[v]) {
        key[v] = d[u][v];
        parent[v] = u;
      }
  }
  return h;
}

namespace {
/// Cosine of two nodes on their reachable filters, from per-filter dot products and squared norms.
double masked_cosine(const at::Tensor& dots, const at::Tensor& nu, const at::Tensor& nv, const at::Tensor& a,
                     const at::Tensor& b) {
  const double num = (dots * (a * b)).sum().item<double>();
  const double den = std::sqrt((nu * a).sum().item<double>() * (nv * b).sum().item<double>());
  return den > 0 ? num / den : 0.0;
}
}  // namespace

PredictionTree build_prediction_tree(const at::Tensor& maps, const std::vector<int64_t>& images) {
  FS_CHECK(maps.dim() >= 2 && maps.size(0) >= 1, "the prediction tree needs the maps of at least one image");
  const int64_t n = maps.size(0), d = maps.size(1);
  FS_CHECK(static_cast<int64_t>(images.size()) == n, "one image id per map");
  const at::Tensor blocks = maps.to(at::kCPU).to(at::kDouble).reshape({n, d, -1});  // [n, d, l*l]
  PredictionTree t;
  std::vector<at::Tensor> vectors;  // [d, l*l] per node
  std::vector<at::Tensor> masks;    // [d] double 0/1 per node
  for (int64_t i = 0; i < n; ++i) {
    TreeNode leaf;
    leaf.id = i;
    leaf.image = images[static_cast<size_t>(i)];
    for (int64_t f = 0; f < d; ++f) leaf.filters.push_back(f);
    t.nodes.push_back(leaf);
    vectors.push_back(blocks[i]);
    masks.push_back(at::ones({d}, at::kDouble));
  }
  std::vector<int64_t> children;  // the root's
  for (int64_t i = 0; i < n; ++i) children.push_back(i);
  auto busy = [&]() {
    for (int64_t c : children)
      if (t.nodes[c].filters.size() > 1) return true;
    return false;
  };
  while (children.size() > 1 && busy()) {
    // Cosine of every pair of children on their reachable filters.
    const int64_t m = static_cast<int64_t>(children.size());
    std::vector<at::Tensor> rows;
    for (int64_t c : children) rows.push_back((vectors[c] * masks[c].unsqueeze(1)).flatten());
    const at::Tensor dist = cosine_distances(at::stack(rows));
    double best = std::numeric_limits<double>::infinity();
    int64_t bi = 0, bj = 1;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = i + 1; j < m; ++j) {
        const double v = dist[i][j].item<double>();
        if (v < best) {
          best = v;
          bi = i;
          bj = j;
        }
      }
    const int64_t u = children[bi], v = children[bj];
    const at::Tensor dots = (vectors[u] * vectors[v]).sum(1), nu = vectors[u].pow(2).sum(1), nv = vectors[v].pow(2).sum(1);
    const at::Tensor shared = masks[u] * masks[v];
    TreeNode s;
    s.id = static_cast<int64_t>(t.nodes.size());
    s.children = {u, v};
    s.distance = best;
    const double full = masked_cosine(dots, nu, nv, masks[u], masks[v]);
    double best_ratio = std::numeric_limits<double>::infinity();
    for (int64_t f = 0; f < d; ++f) {
      if (shared[f].item<double>() == 0) continue;
      at::Tensor mu = masks[u].clone(), mv = masks[v].clone();
      mu[f] = 0;
      mv[f] = 0;
      const double without = masked_cosine(dots, nu, nv, mu, mv);
      const double ratio = full != 0 ? without / full : without;
      if (ratio < best_ratio) {
        best_ratio = ratio;
        s.critical = f;
      }
    }
    at::Tensor mask = shared.clone();
    if (s.critical) mask[*s.critical] = 0;
    for (int64_t f = 0; f < d; ++f)
      if (mask[f].item<double>() > 0) s.filters.push_back(f);
    t.nodes.push_back(s);
    vectors.push_back((vectors[u] + vectors[v]) / 2);
    masks.push_back(mask);
    children.erase(children.begin() + bj);
    children.erase(children.begin() + bi);
    children.push_back(s.id);
  }
  // The root holds what is left.
  TreeNode root;
  root.id = static_cast<int64_t>(t.nodes.size());
  root.children = children;
  for (int64_t f = 0; f < d; ++f) root.filters.push_back(f);
  t.nodes.push_back(root);
  t.root = root.id;
  return t;
}

}  // namespace filterscope
