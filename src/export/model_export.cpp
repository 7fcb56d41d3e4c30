// model_metadata, and the torchvision export: the network's own state dict (its names are
// torchvision's) in a .pth zip with the metadata beside the tensors.
#include "sadanet/export/model_export.h"

#include <charconv>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "sadanet/error.h"
#include "sadanet/io/pth.h"
#include "sadanet/io/sha256.h"
#include "sadanet/runtime.h"

namespace sadanet::exporter {
namespace {

std::string float_str(float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // the shortest text that reads back as v
  return std::string(buf, r.ptr);
}
std::string float_list(const std::array<float, 3>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out.append(i ? ", " : "").append(float_str(v[i]));
  return out.append("]");
}

}  // namespace

std::map<std::string, std::string> model_metadata(const train::InferenceModel& m) {
  const train::Preprocess& p = m.info.preprocess;
  std::string classes;
  try {
    classes = nlohmann::json(m.info.classes).dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("export: a class name is not UTF-8 text: ") + e.what());
  }
  const std::string s = std::to_string(p.size);
  return {
      {"classes", classes},
      {"num_classes", std::to_string(m.info.classes.size())},
      {"input_name", "input"},
      {"input_size", s},
      {"mean", float_list(p.mean)},
      {"std", float_list(p.std)},
      {"resize", "bilinear to " + s + "x" + s + " (aspect ratio not kept), half-pixel centres (align_corners=False), "
                 "no antialiasing, on the 8-bit RGB image, each value rounded to the nearest integer 0..255; skipped when the image is already " +
                 s + "x" + s},
      {"layout", "NCHW float32, channels R, G, B"},
      {"preprocessing", "decode to 8-bit RGB; resize as 'resize' says; x / 255; (x - mean) / std per channel; "
                        "stack as [N, 3, " + s + ", " + s + "]"},
      {"outputs", "logits [N, C]: the classifier's scores, in the order of 'classes'; probabilities [N, C]: "
                  "their softmax"},
      {"arch", train::arch_name(m.info.arch)},
      {"source", std::filesystem::path(m.info.path).filename().string()},
      {"source_format", m.info.format},
      {"source_sha256", io::sha256_file_hex(m.info.path)},
      {"sadanet_version", version()},
  };
}

std::string torchvision_constructor(const train::InferenceModel& m) {
  SADANET_CHECK(m.net && m.net->fc, "export: the network has no classifier (fc)");
  const std::string c = std::to_string(m.net->num_classes());
  std::vector<size_t> depths;
  for (const auto& stage : m.net->stages) depths.push_back(stage->children().size());
  if (depths == std::vector<size_t>{3, 4, 6, 3}) return "torchvision.models.resnet50(num_classes=" + c + ")";
  std::string d;
  for (size_t x : depths) d += (d.empty() ? "" : ", ") + std::to_string(x);
  return "torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [" + d + "], num_classes=" + c + ")";
}

void write_torchvision(const train::InferenceModel& m, const std::string& path) {
  nlohmann::json j;
  for (const auto& [k, v] : model_metadata(m)) {
    if (k == "classes" || k == "mean" || k == "std")
      j[k] = nlohmann::json::parse(v);
    else
      j[k] = v;
  }
  j["torchvision"] = torchvision_constructor(m);
  j["format"] = "sadanet-torchvision-export";
  const std::string desc = j.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
  io::write_pth_state_dict(path, m.net->state_dict(), {{"sadanet.json", desc}});
}

}  // namespace sadanet::exporter
