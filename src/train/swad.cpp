#include "sadanet/train/swad.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "sadanet/ops.h"

namespace sadanet::train {
namespace {

using json = nlohmann::json;

std::vector<Tensor> clone_all(const std::vector<Tensor>& ts) {
  NoGradGuard ng;
  std::vector<Tensor> out;
  out.reserve(ts.size());
  for (const auto& t : ts) out.push_back(t.detach().clone());
  return out;
}

json weights_json(const AveragedWeights& w) {
  return json{{"n_averaged", w.n_averaged}, {"start_step", w.start_step}, {"end_step", w.end_step},
              {"params", w.params.size()}};
}

AveragedWeights weights_from(const json& j, const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  AveragedWeights w;
  w.n_averaged = j.at("n_averaged").get<int64_t>();
  w.start_step = j.at("start_step").get<int64_t>();
  w.end_step = j.at("end_step").get<int64_t>();
  const size_t n = j.at("params").get<size_t>();
  for (size_t i = 0; i < n; ++i) {
    auto it = tensors.find(prefix + std::to_string(i));
    SADANET_CHECK(it != tensors.end(), "SWAD state: tensor '", prefix, i, "' is missing from the checkpoint");
    w.params.push_back(it->second);
  }
  return w;
}

void add_tensors(const AveragedWeights& w, const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) {
  for (size_t i = 0; i < w.params.size(); ++i) out.emplace_back(prefix + std::to_string(i), w.params[i]);
}

}  // namespace

AveragedWeights AveragedWeights::copy_of(const std::vector<Tensor>& params) {
  AveragedWeights w;
  w.params = clone_all(params);
  return w;
}

void AveragedWeights::update(const std::vector<Tensor>& model, std::optional<int64_t> step,
                             std::optional<int64_t> start, std::optional<int64_t> end) {
  NoGradGuard ng;
  if (n_averaged == 0 || params.empty()) {
    if (params.size() != model.size()) params = clone_all(model);
    else
      for (size_t i = 0; i < model.size(); ++i) params[i].copy_(model[i].detach());
  } else {
    SADANET_CHECK(params.size() == model.size(), "SWAD: averaging ", model.size(), " tensors into an average of ",
                  params.size());
    // torch: averaged + (model - averaged) / (num_averaged + 1), the divisor a tensor.
    for (size_t i = 0; i < model.size(); ++i) {
      Tensor& p = params[i];
      Tensor n1 = scalar_tensor(static_cast<double>(n_averaged + 1), p.options());
      p.copy_(add(p, div(sub(model[i].detach(), p), n1)));
    }
  }
  ++n_averaged;
  if (step) {
    if (!start) start = step;
    if (!end) end = step;
  }
  if (start && n_averaged == 1) start_step = *start;
  if (end) end_step = *end;
}

LossValley::LossValley(int n_converge, int n_tolerance, double tolerance_ratio)
    : n_converge_(n_converge), n_tolerance_(n_tolerance), ratio_(tolerance_ratio) {
  SADANET_CHECK(n_converge >= 1 && n_tolerance >= 1, "LossValley: expected n_converge, n_tolerance >= 1, got ",
                n_converge, ", ", n_tolerance);
}

double LossValley::smooth_min(size_t from) const {
  double m = smooth_q_.at(from)->loss;
  for (size_t i = from; i < smooth_q_.size(); ++i) m = std::min(m, smooth_q_[i]->loss);
  return m;
}

void LossValley::update_and_evaluate(const AveragedWeights& segment, double val_loss) {
  event_.clear();
  if (dead_) return;
  auto frozen = std::make_shared<SwadSegment>();
  frozen->weights = segment;
  frozen->weights.params = clone_all(segment.params);
  frozen->loss = val_loss;
  converge_q_.push_back(frozen);
  if (converge_q_.size() > static_cast<size_t>(n_converge_)) converge_q_.pop_front();
  smooth_q_.push_back(frozen);
  if (smooth_q_.size() > static_cast<size_t>(n_tolerance_)) smooth_q_.pop_front();

  if (!converged()) {
    if (converge_q_.size() < static_cast<size_t>(n_converge_)) return;
    size_t min_idx = 0;  // numpy argmin: the first minimum
    for (size_t i = 1; i < converge_q_.size(); ++i)
      if (converge_q_[i]->loss < converge_q_[min_idx]->loss) min_idx = i;
    if (min_idx != 0) return;
    converge_step_ = converge_q_[0]->weights.end_step;
    final_ = AveragedWeights::copy_of(converge_q_[0]->weights.params);
    double sum = 0;
    for (const auto& s : converge_q_) sum += s->loss;
    threshold_ = sum / static_cast<double>(converge_q_.size()) * (1.0 + ratio_);
    auto add = [&](const SwadSegment& s) { final_->update(s.weights.params, {}, s.weights.start_step, s.weights.end_step); };
    if (n_tolerance_ < n_converge_) {
      for (int i = 0; i < n_converge_ - n_tolerance_; ++i) add(*converge_q_[1 + i]);
    } else if (n_tolerance_ > n_converge_) {
      const size_t converge_idx = static_cast<size_t>(n_tolerance_ - n_converge_);
      const size_t q_len = std::min(converge_idx + 1, smooth_q_.size());
      size_t start_idx = 0;
      for (size_t i = q_len; i-- > 0;)
        if (smooth_q_[i]->loss > threshold_) {
          start_idx = i + 1;
          break;
        }
      for (size_t i = start_idx + 1; i < q_len; ++i) add(*smooth_q_[i]);
    }
    // No segment past the loss threshold yet: the average starts with the next one to qualify.
    const std::string from = final_->n_averaged > 0 ? detail::concat("averaging from step ", final_->start_step)
                                                    : std::string("averaging starts with the next segment under the threshold");
    event_ = detail::concat("SWAD: converged at step ", *converge_step_, ", ", from, ", threshold ", threshold_);
    return;
  }
  if (smooth_q_.front()->weights.end_step < *converge_step_) return;
  if (smooth_min(0) > threshold_) {
    dead_ = true;
    event_ = detail::concat("SWAD: the loss valley is dead (min loss over the last ", smooth_q_.size(),
                            " evaluations ", smooth_min(0), " > threshold ", threshold_, "); averaged steps ",
                            final_->start_step, "-", final_->end_step);
    return;
  }
  const SwadSegment& s = *smooth_q_.front();
  final_->update(s.weights.params, {}, s.weights.start_step, s.weights.end_step);
}

std::optional<AveragedWeights> LossValley::final_weights(std::string* note) const {
  if (!converged()) {
    if (converge_q_.empty()) {
      if (note) *note = "SWAD: no validation loss was evaluated; the final model is the last model";
      return std::nullopt;
    }
    if (note) *note = "SWAD: the validation loss never converged; the final model is the last segment's average";
    AveragedWeights w = converge_q_.back()->weights;
    w.params = clone_all(w.params);
    return w;
  }
  AveragedWeights w = *final_;
  w.params = clone_all(w.params);
  if (!dead_) {
    std::deque<SegPtr> q = smooth_q_;
    q.pop_front();
    while (!q.empty()) {
      double m = q.front()->loss;
      for (const auto& s : q) m = std::min(m, s->loss);
      if (m > threshold_) break;
      const SwadSegment& s = *q.front();
      w.update(s.weights.params, s.weights.end_step);
      q.pop_front();
    }
  }
  if (note)
    *note = detail::concat("SWAD: averaged ", w.n_averaged, " segments, steps ", w.start_step, "-", w.end_step,
                           dead_ ? " (valley ended)" : " (valley still open at the end)");
  return w;
}

std::string LossValley::state_json() const {
  std::vector<SegPtr> segs;
  auto id = [&](const SegPtr& p) {
    auto it = std::find(segs.begin(), segs.end(), p);
    if (it != segs.end()) return static_cast<int64_t>(it - segs.begin());
    segs.push_back(p);
    return static_cast<int64_t>(segs.size() - 1);
  };
  json j;
  j["converge_q"] = json::array();
  j["smooth_q"] = json::array();
  for (const auto& s : converge_q_) j["converge_q"].push_back(id(s));
  for (const auto& s : smooth_q_) j["smooth_q"].push_back(id(s));
  j["segments"] = json::array();
  for (const auto& s : segs) {
    json w = weights_json(s->weights);
    w["loss"] = s->loss;
    j["segments"].push_back(w);
  }
  j["final"] = final_ ? weights_json(*final_) : json(nullptr);
  j["converge_step"] = converge_step_ ? json(*converge_step_) : json(nullptr);
  j["dead"] = dead_;
  j["threshold"] = threshold_;
  return j.dump();
}

void LossValley::state_tensors(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const {
  std::vector<SegPtr> segs;
  for (const auto* q : {&converge_q_, &smooth_q_})
    for (const auto& s : *q)
      if (std::find(segs.begin(), segs.end(), s) == segs.end()) segs.push_back(s);
  for (size_t i = 0; i < segs.size(); ++i) add_tensors(segs[i]->weights, prefix + "seg." + std::to_string(i) + ".", out);
  if (final_) add_tensors(*final_, prefix + "final.", out);
}

void LossValley::load_state(const std::string& text, const std::map<std::string, Tensor>& tensors,
                            const std::string& prefix) {
  try {
    json j = json::parse(text);
    std::vector<SegPtr> segs;
    for (size_t i = 0; i < j.at("segments").size(); ++i) {
      const json& s = j["segments"][i];
      auto seg = std::make_shared<SwadSegment>();
      seg->weights = weights_from(s, tensors, prefix + "seg." + std::to_string(i) + ".");
      seg->loss = s.at("loss").get<double>();
      segs.push_back(seg);
    }
    converge_q_.clear();
    smooth_q_.clear();
    for (auto i : j.at("converge_q")) converge_q_.push_back(segs.at(i.get<size_t>()));
    for (auto i : j.at("smooth_q")) smooth_q_.push_back(segs.at(i.get<size_t>()));
    final_.reset();
    if (!j.at("final").is_null()) final_ = weights_from(j["final"], tensors, prefix + "final.");
    converge_step_.reset();
    if (!j.at("converge_step").is_null()) converge_step_ = j["converge_step"].get<int64_t>();
    dead_ = j.at("dead").get<bool>();
    threshold_ = j.at("threshold").get<double>();
  } catch (const json::exception& e) {
    throw Error(std::string("SWAD state in the checkpoint is malformed: ") + e.what());
  }
}

SwadTracker::SwadTracker(int n_converge, int n_tolerance, double tolerance_ratio, int64_t eval_every)
    : valley_(n_converge, n_tolerance, tolerance_ratio), eval_every_(eval_every) {
  SADANET_CHECK(eval_every >= 1, "SWAD: expected eval_every >= 1, got ", eval_every);
}

void SwadTracker::after_step(const std::vector<Tensor>& params, int64_t step) { segment_.update(params, step); }

void SwadTracker::evaluate(double val_loss) {
  valley_.update_and_evaluate(segment_, val_loss);
  segment_ = AveragedWeights{};  // swad_algorithm = AveragedModel(algorithm): overwritten by the next step
}

std::string SwadTracker::state_json() const {
  json j;
  j["eval_every"] = eval_every_;
  j["segment"] = weights_json(segment_);
  j["valley"] = json::parse(valley_.state_json());
  return j.dump();
}

std::vector<std::pair<std::string, Tensor>> SwadTracker::state_tensors() const {
  std::vector<std::pair<std::string, Tensor>> out;
  add_tensors(segment_, "swad.cur.", out);
  valley_.state_tensors("swad.", out);
  return out;
}

void SwadTracker::load_state(const std::string& text, const std::map<std::string, Tensor>& tensors) {
  try {
    json j = json::parse(text);
    SADANET_CHECK(j.at("eval_every").get<int64_t>() == eval_every_, "SWAD state: saved with eval_every ",
                  j["eval_every"].get<int64_t>(), ", this run uses ", eval_every_);
    segment_ = weights_from(j.at("segment"), tensors, "swad.cur.");
    valley_.load_state(j.at("valley").dump(), tensors, "swad.");
  } catch (const json::exception& e) {
    throw Error(std::string("SWAD state in the checkpoint is malformed: ") + e.what());
  }
}

}  // namespace sadanet::train
