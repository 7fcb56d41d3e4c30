#include "sadanet/train/config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "sadanet/device.h"
#include "sadanet/error.h"

namespace sadanet::train {
namespace {

using json = nlohmann::ordered_json;

template <class E, size_t N>
E parse_enum(const char* what, const std::string& s, const std::pair<const char*, E> (&table)[N]) {
  std::string accepted;
  for (auto& [name, v] : table) {
    if (s == name) return v;
    accepted += accepted.empty() ? "" : ", ";
    accepted += name;
  }
  throw Error(detail::concat(what, ": expected one of ", accepted, ", got '", s, "'"));
}

constexpr std::pair<const char*, Method> kMethods[] = {{"erm", Method::erm}, {"sada", Method::sada}};
constexpr std::pair<const char*, Arch> kArchs[] = {
    {"resnet50", Arch::resnet50}, {"resnet-tiny", Arch::resnet_tiny}, {"resnet_tiny", Arch::resnet_tiny}};
constexpr std::pair<const char*, Stage2> kStage2[] = {{"classifier", Stage2::classifier}, {"full", Stage2::full}};
constexpr std::pair<const char*, Projector> kProjectors[] = {{"linear", Projector::linear}, {"mlp", Projector::mlp}};
constexpr std::pair<const char*, sada::ContrastiveAnchor> kAnchors[] = {
    {"view_mean", sada::ContrastiveAnchor::view_mean}, {"each_sample", sada::ContrastiveAnchor::each_sample},
    {"view-mean", sada::ContrastiveAnchor::view_mean}, {"each-sample", sada::ContrastiveAnchor::each_sample}};

BatchNormMode bn_from_name(const std::string& s) {
  SADANET_CHECK(s == "train" || s == "frozen", "bn: expected train or frozen, got '", s, "'");
  return batch_norm_mode_from_name(s);
}

// Keys that do not change what a run computes (see identity_diff).
const std::set<std::string> kRuntimeKeys = {"data",       "device",    "threads",    "loader_threads",
                                            "cache",      "max_pixels", "eval_batch", "log_every",
                                            "ckpt_every", "ckpt_minutes"};

}  // namespace

size_t invalid_utf8_at(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    i += n;
  }
  return std::string::npos;
}

namespace {

json to_j(const TrainConfig& c) {
  json j;
  j["data"] = c.data;
  j["target"] = c.target;
  j["target_eval"] = c.target_eval;
  j["classes"] = c.classes;
  j["class_folders"] = c.class_folders;
  j["method"] = method_name(c.method);
  j["arch"] = arch_name(c.arch);
  j["preset"] = c.preset;
  j["weights"] = c.weights;
  j["steps1"] = c.steps1;
  j["steps2"] = c.steps2;
  j["steps_erm"] = c.steps_erm;
  j["batch"] = c.batch;
  j["size"] = c.size;
  j["lr"] = c.lr;
  j["bn"] = batch_norm_mode_name(c.bn);
  j["stage2"] = stage2_name(c.stage2);
  j["stage2_optimizer"] = c.stage2_fresh_optimizer ? "fresh" : "carry";
  j["beta"] = c.beta;
  j["tau"] = c.tau;
  j["k"] = c.k;
  j["anchor"] = anchor_name(c.anchor);
  j["stain"] = stain::variant_name(c.stain);
  j["la_image_mean"] = c.la_image_mean;
  j["la_hidden"] = c.la_hidden;
  j["la_out"] = c.la_out;
  j["projector"] = projector_name(c.projector);
  j["proj_dim"] = c.proj_dim;
  j["proj_hidden"] = c.proj_hidden;
  j["swad"] = json{{"enabled", c.swad.enabled},
                   {"eval_every", c.swad.eval_every},
                   {"n_converge", c.swad.n_converge},
                   {"n_tolerance", c.swad.n_tolerance},
                   {"tolerance_ratio", c.swad.tolerance_ratio},
                   {"bn_steps", c.swad.bn_steps},
                   {"early_stop", c.swad.early_stop},
                   {"min_share", c.swad.min_share}};
  j["device"] = c.device;
  j["seed"] = c.seed;
  j["threads"] = c.threads;
  j["loader_threads"] = c.loader_threads;
  j["cache"] = c.cache;
  j["max_pixels"] = c.max_pixels;
  j["eval_batch"] = c.eval_batch;
  j["log_every"] = c.log_every;
  j["ckpt_every"] = c.ckpt_every;
  j["ckpt_minutes"] = c.ckpt_minutes;
  return j;
}

// Reads j[key] into v when present, with a clear message on a type mismatch.
template <class T> void get(const json& j, const char* key, T& v) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    v = it->template get<T>();
  } catch (const json::exception& e) {
    throw Error(detail::concat("config: key '", key, "' has the wrong type (", it->type_name(), "): ", e.what()));
  }
}

}  // namespace

const char* method_name(Method m) { return m == Method::erm ? "erm" : "sada"; }
const char* arch_name(Arch a) { return a == Arch::resnet50 ? "resnet50" : "resnet-tiny"; }
const char* stage2_name(Stage2 s) { return s == Stage2::classifier ? "classifier" : "full"; }
const char* projector_name(Projector p) { return p == Projector::linear ? "linear" : "mlp"; }
const char* anchor_name(sada::ContrastiveAnchor a) {
  return a == sada::ContrastiveAnchor::view_mean ? "view_mean" : "each_sample";
}
Method method_from_name(const std::string& s) { return parse_enum("method", s, kMethods); }
Arch arch_from_name(const std::string& s) { return parse_enum("arch", s, kArchs); }
Stage2 stage2_from_name(const std::string& s) { return parse_enum("stage2", s, kStage2); }
Projector projector_from_name(const std::string& s) { return parse_enum("projector", s, kProjectors); }
sada::ContrastiveAnchor anchor_from_name(const std::string& s) { return parse_enum("anchor", s, kAnchors); }

void apply_preset(TrainConfig& c, const std::string& preset) {
  if (preset == "paper") {
    c.beta = 0.1;
    c.anchor = sada::ContrastiveAnchor::view_mean;
    c.stage2 = Stage2::classifier;
    c.bn = BatchNormMode::train;
    c.stain = stain::StainVariant::paper;
  } else if (preset == "reference-code" || preset == "reference_code") {
    c.beta = 0.0;
    c.anchor = sada::ContrastiveAnchor::each_sample;
    c.stage2 = Stage2::full;
    c.bn = BatchNormMode::frozen;
    c.stain = stain::StainVariant::reference_code;
  } else {
    throw Error("preset: expected paper or reference-code, got '" + preset + "'");
  }
  c.preset = preset == "reference_code" ? "reference-code" : preset;
}

void TrainConfig::validate() const {
  auto positive = [](const char* key, int64_t v) {
    SADANET_CHECK(v > 0, "config: expected ", key, " > 0, got ", v);
  };
  auto non_negative = [](const char* key, int64_t v) {
    SADANET_CHECK(v >= 0, "config: expected ", key, " >= 0, got ", v);
  };
  SADANET_CHECK(!data.empty(), "config: expected a dataset folder (data), got an empty path");
  SADANET_CHECK(!target.empty(), "config: expected a target domain, got an empty name");
  SADANET_CHECK(target_eval == "test" || target_eval == "all", "config: target_eval: expected test or all, got '",
                target_eval, "'");
  non_negative("steps1", steps1);
  non_negative("steps2", steps2);
  non_negative("steps_erm", steps_erm);
  if (method == Method::sada) {
    SADANET_CHECK(steps2 > 0, "config: SADA needs stage-2 steps (the classifier is trained there), got steps2 = ",
                  steps2);
  } else {
    positive("steps1 + steps2 (or steps_erm) for ERM", erm_steps());
  }
  SADANET_CHECK(batch >= 1 && batch <= 4096, "config: expected batch in 1..4096, got ", batch);
  SADANET_CHECK(size >= 32 && size <= 4096, "config: expected size in 32..4096 (ResNet needs >= 32), got ", size);
  SADANET_CHECK(lr > 0 && lr < 1, "config: expected 0 < lr < 1, got ", lr);
  SADANET_CHECK(bn == BatchNormMode::train || bn == BatchNormMode::frozen, "config: bn: expected train or frozen, got ",
                batch_norm_mode_name(bn));
  SADANET_CHECK(beta >= 0, "config: expected beta >= 0, got ", beta);
  SADANET_CHECK(tau > 0, "config: expected tau > 0, got ", tau);
  SADANET_CHECK(k == 0 || (k >= 2 && k <= 16), "config: expected k (stain clusters) in 2..16, or 0 (auto), got ", k);
  SADANET_CHECK(swad.min_share >= 0 && swad.min_share <= 1, "config: expected swad.min_share in [0, 1], got ",
                swad.min_share);
  positive("la_hidden", la_hidden);
  positive("la_out", la_out);
  positive("proj_dim", proj_dim);
  if (projector == Projector::mlp) positive("proj_hidden", proj_hidden);
  non_negative("swad.eval_every", swad.eval_every);
  SADANET_CHECK(swad.n_converge >= 1, "config: expected swad.n_converge >= 1, got ", swad.n_converge);
  SADANET_CHECK(swad.n_tolerance >= 1, "config: expected swad.n_tolerance >= 1, got ", swad.n_tolerance);
  SADANET_CHECK(swad.tolerance_ratio >= 0, "config: expected swad.tolerance_ratio >= 0, got ", swad.tolerance_ratio);
  non_negative("swad.bn_steps", swad.bn_steps);
  (void)Device::parse(device);  // throws naming the accepted forms
  SADANET_CHECK(threads >= 0 && threads <= 1024, "config: expected threads in 0..1024, got ", threads);
  SADANET_CHECK(loader_threads >= 1 && loader_threads <= 256, "config: expected loader_threads in 1..256, got ",
                loader_threads);
  SADANET_CHECK(max_pixels >= 1, "config: expected max_pixels >= 1, got ", max_pixels);
  SADANET_CHECK(eval_batch >= 1 && eval_batch <= 4096, "config: expected eval_batch in 1..4096, got ", eval_batch);
  positive("log_every", log_every);
  positive("ckpt_every", ckpt_every);
  SADANET_CHECK(std::isfinite(ckpt_minutes) && ckpt_minutes >= 0 && ckpt_minutes <= 1e6,
                "config: expected ckpt_minutes in 0..1e6 (0: off), got ", ckpt_minutes);
  for (const auto& [key, value] : {std::pair<const char*, const std::string*>{"data", &data}, {"target", &target},
                                   {"weights", &weights}}) {
    const size_t at = invalid_utf8_at(*value);
    SADANET_CHECK(at == std::string::npos, "config: ", key, " '", *value, "' has a byte that is not UTF-8 (0x", std::hex,
                  static_cast<int>(static_cast<unsigned char>((*value)[at == std::string::npos ? 0 : at])), std::dec,
                  " at offset ", at, "); sadanet records paths in JSON, which holds only UTF-8: rename the folder");
  }
}

void TrainConfig::check_file_limits() const {
  auto in = [](const char* key, int64_t v, int64_t lo, int64_t hi) {
    SADANET_CHECK(v >= lo && v <= hi, "config: expected ", key, " in ", lo, "..", hi, ", got ", v);
  };
  auto finite = [](const char* key, double v, bool ok, const char* range) {
    SADANET_CHECK(std::isfinite(v) && ok, "config: expected ", key, " ", range, ", got ", v);
  };
  in("steps1", steps1, 0, kMaxFileSteps);
  in("steps2", steps2, 0, kMaxFileSteps);
  in("steps_erm", steps_erm, 0, kMaxFileSteps);
  in("batch", batch, 1, 4096);
  in("size", size, 32, 4096);
  finite("lr", lr, lr > 0 && lr < 1, "in (0, 1)");
  finite("beta", beta, beta >= 0, ">= 0");
  finite("tau", tau, tau > 0, "> 0");
  if (k != 0) in("k", k, 2, 16);  // 0: auto
  in("la_hidden", la_hidden, 1, kMaxFileWidth);
  in("la_out", la_out, 1, kMaxFileWidth);
  in("proj_dim", proj_dim, 1, kMaxFileWidth);
  in("proj_hidden", proj_hidden, 1, kMaxFileWidth);
  in("swad.eval_every", swad.eval_every, 0, kMaxFileSteps);
  in("swad.n_converge", swad.n_converge, 1, 1000);
  in("swad.n_tolerance", swad.n_tolerance, 1, 1000);
  finite("swad.tolerance_ratio", swad.tolerance_ratio, swad.tolerance_ratio >= 0, ">= 0");
  in("swad.bn_steps", swad.bn_steps, 0, 1'000'000);
  in("threads", threads, 0, 1024);
  in("loader_threads", loader_threads, 1, 256);
  in("eval_batch", eval_batch, 1, 4096);
  in("log_every", log_every, 1, kMaxFileSteps);
  in("ckpt_every", ckpt_every, 1, kMaxFileSteps);
  in("classes", static_cast<int64_t>(classes.size()), 0, kMaxFileClasses);
  in("class_folders", static_cast<int64_t>(class_folders.size()), 0, 100'000);
}

std::vector<std::string> TrainConfig::identity_diff(const TrainConfig& other) const {
  json a = to_j(*this), b = to_j(other);
  std::vector<std::string> out;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (kRuntimeKeys.count(it.key())) continue;
    if (it.value() != b[it.key()])
      out.push_back(it.key() + ": " + it.value().dump() + " vs " + b[it.key()].dump());
  }
  return out;
}

std::string config_to_json(const TrainConfig& cfg, int indent) { return to_j(cfg).dump(indent); }

TrainConfig config_from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(std::string("config: not valid JSON: ") + e.what());
  }
  SADANET_CHECK(j.is_object(), "config: expected a JSON object, got ", j.type_name());
  const json defaults = to_j(TrainConfig{});
  j.erase("provenance");  // what config.json records beside the config (trainer.cpp); not settings
  for (auto it = j.begin(); it != j.end(); ++it) {
    SADANET_CHECK(defaults.contains(it.key()), "config: unknown key '", it.key(), "'");
    if (it.key() == "swad") {
      SADANET_CHECK(it->is_object(), "config: key 'swad' must be an object, got ", it->type_name());
      for (auto s = it->begin(); s != it->end(); ++s)
        SADANET_CHECK(defaults["swad"].contains(s.key()), "config: unknown key 'swad.", s.key(), "'");
    }
  }
  TrainConfig c;
  std::string s;
  get(j, "data", c.data);
  get(j, "target", c.target);
  get(j, "target_eval", c.target_eval);
  if (s.clear(), get(j, "method", s), !s.empty()) c.method = method_from_name(s);
  if (s.clear(), get(j, "arch", s), !s.empty()) c.arch = arch_from_name(s);
  get(j, "preset", c.preset);
  get(j, "weights", c.weights);
  get(j, "classes", c.classes);
  get(j, "class_folders", c.class_folders);
  get(j, "steps1", c.steps1);
  get(j, "steps2", c.steps2);
  get(j, "steps_erm", c.steps_erm);
  get(j, "batch", c.batch);
  get(j, "size", c.size);
  get(j, "lr", c.lr);
  if (s.clear(), get(j, "bn", s), !s.empty()) c.bn = bn_from_name(s);
  if (s.clear(), get(j, "stage2", s), !s.empty()) c.stage2 = stage2_from_name(s);
  if (s.clear(), get(j, "stage2_optimizer", s), !s.empty()) {
    SADANET_CHECK(s == "carry" || s == "fresh", "config: stage2_optimizer: expected carry or fresh, got '", s, "'");
    c.stage2_fresh_optimizer = s == "fresh";
  }
  get(j, "beta", c.beta);
  get(j, "tau", c.tau);
  get(j, "k", c.k);
  if (s.clear(), get(j, "anchor", s), !s.empty()) c.anchor = anchor_from_name(s);
  if (s.clear(), get(j, "stain", s), !s.empty()) c.stain = stain::variant_from_name(s);
  get(j, "la_image_mean", c.la_image_mean);
  get(j, "la_hidden", c.la_hidden);
  get(j, "la_out", c.la_out);
  if (s.clear(), get(j, "projector", s), !s.empty()) c.projector = projector_from_name(s);
  get(j, "proj_dim", c.proj_dim);
  get(j, "proj_hidden", c.proj_hidden);
  if (j.contains("swad")) {
    const json& w = j["swad"];
    get(w, "enabled", c.swad.enabled);
    get(w, "eval_every", c.swad.eval_every);
    get(w, "n_converge", c.swad.n_converge);
    get(w, "n_tolerance", c.swad.n_tolerance);
    get(w, "tolerance_ratio", c.swad.tolerance_ratio);
    get(w, "bn_steps", c.swad.bn_steps);
    get(w, "early_stop", c.swad.early_stop);
    get(w, "min_share", c.swad.min_share);
  }
  get(j, "device", c.device);
  get(j, "seed", c.seed);
  get(j, "threads", c.threads);
  get(j, "loader_threads", c.loader_threads);
  get(j, "cache", c.cache);
  get(j, "max_pixels", c.max_pixels);
  get(j, "eval_batch", c.eval_batch);
  get(j, "log_every", c.log_every);
  get(j, "ckpt_every", c.ckpt_every);
  get(j, "ckpt_minutes", c.ckpt_minutes);
  return c;
}

}  // namespace sadanet::train
