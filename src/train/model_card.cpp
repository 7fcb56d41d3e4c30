// model.json is the record; model_card.md is rendered from it, so that adding the evaluation
// later (or a program reading the card's facts) never parses Markdown.
#include "sadanet/train/model_card.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sadanet/data/image.h"
#include "sadanet/error.h"
#include "sadanet/io/files.h"
#include "sadanet/runtime.h"

namespace sadanet::train {
namespace {

using Json = nlohmann::ordered_json;

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Per domain, per class counts of an item list.
Json counts(const std::vector<data::Item>& items, const std::vector<std::string>& domains,
            const std::vector<std::string>& classes) {
  std::map<int32_t, std::vector<int64_t>> by_domain;
  for (const auto& it : items) {
    auto& v = by_domain[it.domain];
    v.resize(classes.size());
    if (it.label >= 0 && static_cast<size_t>(it.label) < classes.size()) ++v[static_cast<size_t>(it.label)];
  }
  Json out = Json::object();
  for (const auto& [d, v] : by_domain) {
    Json c = Json::object();
    for (size_t i = 0; i < classes.size(); ++i) c[classes[i]] = v[i];
    out[d >= 0 && static_cast<size_t>(d) < domains.size() ? domains[static_cast<size_t>(d)] : std::to_string(d)] = c;
  }
  return out;
}

// 0.485f as 0.485, not 0.48500001430511475: the float constants' intended decimals.
double short_decimal(float v) { return std::round(static_cast<double>(v) * 1e6) / 1e6; }

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
  return buf;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SADANET_CHECK(f, "model card: cannot read ", path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// A Markdown table cell: names come from folder names, which may hold '|'.
std::string cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

void write_model_card(const std::string& rundir, const ModelCardInput& in) {
  SADANET_CHECK(in.split != nullptr, "write_model_card: expected the run's split");
  const TrainConfig& c = in.config;
  Json j;
  j["format"] = "sadanet-model-card";
  j["version"] = 1;
  j["sadanet_version"] = version();
  j["created"] = utc_now();
  j["files"] = {{"final", "final.safetensors"}, {"last", "last.safetensors"}};
  j["architecture"] = arch_name(c.arch);
  j["parameters"] = in.parameters;
  j["labels"] = in.classes;
  j["input"] = {{"size", c.size},
                {"layout", "NCHW, RGB"},
                {"resize", "bilinear, aspect ratio not kept"},
                {"scale", "pixel / 255"},
                {"mean", {short_decimal(data::kImageNetMean[0]), short_decimal(data::kImageNetMean[1]),
                          short_decimal(data::kImageNetMean[2])}},
                {"std", {short_decimal(data::kImageNetStd[0]), short_decimal(data::kImageNetStd[1]),
                         short_decimal(data::kImageNetStd[2])}}};
  j["training"] = {{"method", method_name(c.method)},
                   {"preset", c.preset},
                   {"data", c.data},
                   {"held_out_domain", c.target},
                   {"weights", c.weights.empty() ? "none (trained from scratch)" : c.weights},
                   {"last_stage", in.stage},
                   {"last_step", in.step},
                   {"seed", c.seed},
                   {"final_model", in.swad_note},
                   {"train_images", counts(in.split->source_train, in.domains, in.classes)},
                   {"validation_images", counts(in.split->source_val, in.domains, in.classes)}};
  j["evaluation"] = Json::array();
  const std::string text = j.dump(2) + "\n";
  io::write_file_atomic(rundir + "/model.json", text);
  io::write_file_atomic(rundir + "/model_card.md", render_model_card(text));
}

void add_model_card_evaluation(const std::string& rundir, const std::string& domain, const std::string& split,
                               const eval::Metrics& m) {
  Json j = Json::parse(read_file(rundir + "/model.json"));
  Json e;
  e["model"] = "final.safetensors";
  e["domain"] = domain;
  e["split"] = split;
  e["images"] = m.total;
  e["f1_macro"] = m.f1_macro;
  e["f1_micro"] = m.f1_micro;
  Json per = Json::object();
  for (size_t i = 0; i < m.classes.size() && i < m.per_class.size(); ++i)
    per[m.classes[i]] = {{"f1", m.per_class[i].f1}, {"support", m.per_class[i].support}};
  e["per_class"] = per;
  e["date"] = utc_now();
  j["evaluation"].push_back(e);
  const std::string text = j.dump(2) + "\n";
  io::write_file_atomic(rundir + "/model.json", text);
  io::write_file_atomic(rundir + "/model_card.md", render_model_card(text));
}

std::string render_model_card(const std::string& model_json) {
  const Json j = Json::parse(model_json);
  const Json& t = j.at("training");
  const Json& in = j.at("input");
  std::ostringstream os;
  os << "# Model card: white blood cell classifier (" << j.at("architecture").get<std::string>() << ", "
     << t.at("method").get<std::string>() << ")\n\n"
     << "Trained by sadanet " << j.at("sadanet_version").get<std::string>() << " on "
     << j.at("created").get<std::string>() << ". Files: `" << j["files"]["final"].get<std::string>()
     << "` (the model to use) and `" << j["files"]["last"].get<std::string>()
     << "` (the last training step); `model.json` holds this card's facts for programs.\n\n";

  os << "## Limitations\n\n"
     << "**Research software, not a medical device.** This model has not been validated for clinical use and must "
        "not be used to diagnose, treat or decide on patient care. It was trained on the images listed below "
        "only; on images from another laboratory, stain, microscope or camera its accuracy is unknown until it is "
        "measured there. It knows only the classes listed: a cell of any other type (or a smudge, an artefact, "
        "two cells) still gets one of these labels. Probabilities are the softmax of the classifier's outputs, "
        "not calibrated confidences.\n\n";

  os << "## Intended use\n\n"
     << "Research on the classification of single, cropped white blood cells into the classes below, e.g. "
        "comparing methods across laboratories, or pre-sorting cells for review by a qualified person. Use: "
        "`sadanet predict --model final.safetensors IMAGES_OR_FOLDERS --csv labels.csv`, the C++ class "
        "`sadanet::Classifier`, or the C API (`sadanet/sadanet_c.h`).\n\n";

  os << "## Labels\n\n";
  const auto& labels = j.at("labels");
  for (size_t i = 0; i < labels.size(); ++i) os << i << ". " << cell(labels[i].get<std::string>()) << "\n";

  os << "\n## Input\n\n"
     << "RGB image resized to " << in.at("size").get<int>() << " x " << in.at("size").get<int>() << " ("
     << in.at("resize").get<std::string>() << "), scaled to [0, 1], then normalised per channel with mean "
     << in.at("mean").dump() << " and std " << in.at("std").dump() << "; layout " << in.at("layout").get<std::string>()
     << ". JPEG, PNG and BMP files are read.\n\n";

  os << "## Training data\n\n"
     << "Method " << t.at("method").get<std::string>() << " (" << t.at("preset").get<std::string>()
     << " preset), initial weights: " << t.at("weights").get<std::string>() << ", seed " << t.at("seed").get<uint64_t>()
     << ", " << j.at("parameters").get<int64_t>() << " parameters; last stage " << t.at("last_stage").get<std::string>()
     << " at step " << t.at("last_step").get<int64_t>() << ". Dataset `" << t.at("data").get<std::string>()
     << "`, domain `" << t.at("held_out_domain").get<std::string>() << "` held out (never seen in training).\n\n";
  auto table = [&](const char* title, const Json& c) {
    if (c.empty()) return;
    os << title << "\n\n| domain |";
    for (const auto& l : labels) os << " " << cell(l.get<std::string>()) << " |";
    os << " total |\n|---|";
    for (size_t i = 0; i < labels.size(); ++i) os << "---:|";
    os << "---:|\n";
    for (const auto& [domain, per] : c.items()) {
      os << "| " << cell(domain) << " |";
      int64_t total = 0;
      for (const auto& l : labels) {
        const int64_t n = per.value(l.get<std::string>(), int64_t{0});
        total += n;
        os << " " << n << " |";
      }
      os << " " << total << " |\n";
    }
    os << "\n";
  };
  table("Training images:", t.at("train_images"));
  table("Validation images (model selection):", t.at("validation_images"));
  os << "Final model: " << t.at("final_model").get<std::string>() << ".\n\n";

  os << "## Evaluation\n\n";
  const auto& ev = j.at("evaluation");
  if (ev.empty()) os << "None recorded: the run's evaluation on its held-out domain has not run (`sadanet eval --checkpoint final.safetensors` measures one).\n";
  for (const auto& e : ev) {
    os << "On `" << e.at("domain").get<std::string>() << "` (" << (e.at("split") == "all" ? "all images" : "test part")
       << ", " << e.at("images").get<int64_t>() << " images, " << e.at("date").get<std::string>()
       << "): F1-macro " << pct(e.at("f1_macro").get<double>()) << "%, F1-micro "
       << pct(e.at("f1_micro").get<double>()) << "%.\n\n| class | F1 (%) | images |\n|---|---:|---:|\n";
    for (const auto& [name, c] : e.at("per_class").items())
      os << "| " << cell(name) << " | " << pct(c.at("f1").get<double>()) << " | " << c.at("support").get<int64_t>()
         << " |\n";
    os << "\n";
  }
  return os.str();
}

}  // namespace sadanet::train
