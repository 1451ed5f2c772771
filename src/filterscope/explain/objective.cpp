#include "filterscope/explain/objective.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <sstream>

#include "filterscope/capture/capture.h"
#include "filterscope/core/error.h"

namespace filterscope {

std::optional<int64_t> Objective::target_class() const {
  if (terms.size() == 1 && terms[0].weight > 0 &&
      (terms[0].kind == ObjectiveTerm::Kind::Logit || terms[0].kind == ObjectiveTerm::Kind::Prob))
    return terms[0].index;
  return std::nullopt;
}

std::vector<std::string> Objective::probes() const {
  std::vector<std::string> out;
  for (const auto& t : terms)
    if (!t.probe.empty() && std::find(out.begin(), out.end(), t.probe) == out.end()) out.push_back(t.probe);
  return out;
}

bool Objective::needs_logits() const {
  return std::any_of(terms.begin(), terms.end(), [](const ObjectiveTerm& t) {
    return t.kind == ObjectiveTerm::Kind::Logit || t.kind == ObjectiveTerm::Kind::Prob;
  });
}

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, sep)) parts.push_back(item);
  if (!text.empty() && text.back() == sep) parts.push_back("");
  return parts;
}

int64_t integer(const std::string& s, const std::string& what, const std::string& text) {
  FS_CHECK(!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10, "--objective \"",
           text, "\": ", what, " \"", s, "\" is not a number");
  return std::stoll(s);
}

}  // namespace

Objective parse_objective(const std::string& text, ProbedModel& model, const std::vector<std::string>& class_names) {
  Objective o;
  o.text = text;
  FS_CHECK(!text.empty(), "--objective: empty objective");
  const int64_t classes = static_cast<int64_t>(class_names.size());
  for (const std::string& raw : split(text, '+')) {
    ObjectiveTerm t;
    std::string term = raw;
    const size_t star = term.find('*');
    if (star != std::string::npos) {
      try {
        size_t used = 0;
        t.weight = std::stod(term.substr(0, star), &used);
        FS_CHECK(used == star, "");
      } catch (const std::exception&) {
        throw Error(detail::concat("--objective \"", text, "\": \"", term.substr(0, star), "\" is not a weight"));
      }
      term = term.substr(star + 1);
    }
    const std::vector<std::string> f = split(term, ':');
    const std::string& kind = f[0];
    if (kind == "logit" || kind == "prob") {
      FS_CHECK(f.size() == 2, "--objective \"", text, "\": write ", kind, ":CLASS");
      t.kind = kind == "logit" ? ObjectiveTerm::Kind::Logit : ObjectiveTerm::Kind::Prob;
      const auto named = std::find(class_names.begin(), class_names.end(), f[1]);
      if (named != class_names.end()) {
        t.index = named - class_names.begin();
      } else {
        std::string known;
        for (int64_t c = 0; c < classes; ++c) known += (c ? ", " : "") + std::to_string(c) + " " + class_names[c];
        FS_CHECK(!f[1].empty() && f[1].find_first_not_of("0123456789") == std::string::npos && f[1].size() < 10 &&
                     std::stoll(f[1]) < classes,
                 "--objective \"", text, "\": no class \"", f[1], "\" (the classes: ", known, ")");
        t.index = std::stoll(f[1]);
      }
    } else if (kind == "layer" || kind == "channel" || kind == "unit") {
      FS_CHECK(f.size() >= 2 && !f[1].empty(), "--objective \"", text, "\": write ", kind, ":PROBE...");
      try {
        model.probe(f[1]);
      } catch (const Error& e) {
        throw Error(detail::concat("--objective \"", text, "\": ", e.what()));
      }
      t.probe = f[1];
      const std::vector<int64_t> shape = probe_shapes(model, {t.probe}).at(0);  // [C, H, W] or [U]
      if (kind == "layer") {
        FS_CHECK(f.size() == 2, "--objective \"", text, "\": write layer:PROBE");
        t.kind = ObjectiveTerm::Kind::Layer;
      } else {
        FS_CHECK(f.size() >= 3, "--objective \"", text, "\": write ", kind, ":PROBE:CHANNEL");
        t.index = integer(f[2], "channel", text);
        FS_CHECK(t.index < shape[0], "--objective \"", text, "\": ", t.probe, " has channels 0-", shape[0] - 1);
        if (kind == "channel") {
          FS_CHECK(f.size() == 3, "--objective \"", text, "\": write channel:PROBE:CHANNEL");
          t.kind = ObjectiveTerm::Kind::Channel;
        } else {
          t.kind = ObjectiveTerm::Kind::Unit;
          if (shape.size() == 3) {
            FS_CHECK(f.size() == 5, "--objective \"", text, "\": a unit of ", t.probe, "'s maps is unit:PROBE:C:H:W");
            t.h = integer(f[3], "row", text);
            t.w = integer(f[4], "column", text);
            FS_CHECK(t.h < shape[1] && t.w < shape[2], "--objective \"", text, "\": (", t.h, ", ", t.w,
                     ") is outside ", t.probe, "'s ", shape[1], "x", shape[2], " maps");
          } else {
            FS_CHECK(f.size() == 3, "--objective \"", text, "\": ", t.probe, " is [N, units]: write unit:PROBE:UNIT");
          }
        }
      }
    } else {
      throw Error(detail::concat("--objective \"", text, "\": unknown term \"", kind,
                                 "\" (logit:CLASS, prob:CLASS, layer:PROBE, channel:PROBE:C, unit:PROBE:C[:H:W])"));
    }
    o.terms.push_back(t);
  }
  return o;
}

at::Tensor evaluate_objective(const Objective& objective, const ProbeOutputs& out) {
  at::Tensor total;
  for (const auto& t : objective.terms) {
    at::Tensor v;
    if (t.kind == ObjectiveTerm::Kind::Logit || t.kind == ObjectiveTerm::Kind::Prob) {
      FS_CHECK(out.logits.defined(), "the objective needs the model's logits");
      v = t.kind == ObjectiveTerm::Kind::Logit ? out.logits.select(1, t.index)
                                               : at::softmax(out.logits, 1).select(1, t.index);
    } else {
      const auto it = std::find_if(out.outputs.begin(), out.outputs.end(),
                                   [&](const auto& p) { return p.first == t.probe; });
      FS_ASSERT(it != out.outputs.end(), "probe ", t.probe, " missing from the forward pass");
      const at::Tensor& a = it->second;
      if (t.kind == ObjectiveTerm::Kind::Layer) v = a.flatten(1).mean(1);
      else if (t.kind == ObjectiveTerm::Kind::Channel) v = a.dim() == 4 ? a.select(1, t.index).flatten(1).mean(1) : a.select(1, t.index);
      else v = a.dim() == 4 ? a.select(1, t.index).select(1, t.h).select(1, t.w) : a.select(1, t.index);
    }
    v = v * t.weight;
    total = total.defined() ? total + v : v;
  }
  return total;
}

}  // namespace filterscope
