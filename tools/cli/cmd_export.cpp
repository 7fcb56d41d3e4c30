// `sadanet export --model M --format onnx|torchvision -o OUT`: a trained model (a run's
// final/last.safetensors, a checkpoint, or a torchvision ResNet-50 file) as a file that runs
// without sadanet. Every input is checked before anything is written; OUT is replaced atomically,
// as the other commands replace their outputs.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "sadanet/export/model_export.h"
#include "sadanet/train/model_file.h"
#if SADANET_WITH_ONNX
#include "sadanet/export/onnx.h"
#endif

namespace sadanet::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string model, format, out;
};

// -o: a file whose folder exists (it is not created: a typo in it should not make folders).
CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& path) -> std::string {
        std::error_code ec;
        if (fs::is_directory(path, ec)) return "'" + path + "' is a folder; expected the path of the file to write";
        const fs::path dir = fs::path(path).parent_path();
        if (!dir.empty() && !fs::is_directory(dir, ec))
          return "the folder of '" + path + "' (" + dir.string() + ") does not exist";
        return "";
      },
      "OUT");
}

void run(const ExportArgs& a) {
  std::error_code ec;
  if (fs::exists(a.out, ec) && fs::equivalent(a.model, a.out, ec))
    throw Error("export: -o " + a.out + " is the model file itself; choose another output path");
#if !SADANET_WITH_ONNX
  if (a.format == "onnx")
    throw Error("export: --format onnx: this sadanet was built without ONNX export (SADANET_ONNX=OFF, or libonnx or protobuf not "
                "found at configure time). Install them with: apt-get install -y libonnx-dev libprotobuf-dev, then "
                "configure and build again; --format torchvision works without them");
#endif
  train::InferenceModel m = train::load_inference_model(a.model, "cpu");
  const std::string what = std::string(train::arch_name(m.info.arch)) + ", " + std::to_string(m.info.classes.size()) +
                           " classes, input " + std::to_string(m.info.preprocess.size) + "x" +
                           std::to_string(m.info.preprocess.size);
  if (a.format == "onnx") {
#if SADANET_WITH_ONNX
    exporter::write_onnx(m, a.out);
    std::cout << "wrote " << a.out << " (ONNX opset " << exporter::kOnnxOpset << ", " << what
              << "): input 'input' [N, 3, " << m.info.preprocess.size << ", " << m.info.preprocess.size
              << "], outputs 'logits' and 'probabilities' [N, " << m.info.classes.size()
              << "]; class names and preprocessing in its metadata_props\n";
#endif
    return;
  }
  exporter::write_torchvision(m, a.out);
  std::cout << "wrote " << a.out << " (torchvision state dict, " << what << "). In Python:\n"
            << "  import torch, torchvision\n"
            << "  model = " << exporter::torchvision_constructor(m) << "\n"
            << "  model.load_state_dict(torch.load(\"" << a.out << "\", weights_only=True), strict=True)\n"
            << "  model.eval()\n"
            << "class names and preprocessing: the record archive/sadanet.json inside the file "
               "(zipfile.ZipFile(path).read(\"archive/sadanet.json\"))\n";
}

}  // namespace

void register_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* c = app.add_subcommand("export", "Write a trained model as ONNX or as a torchvision state dict");
  c->footer(
      "Formats:\n"
      "  onnx         ONNX opset 17: input 'input' float32 [N, 3, S, S] (N dynamic), outputs 'logits' and\n"
      "               'probabilities' (softmax) [N, C]. metadata_props hold the class names (JSON list), S, the\n"
      "               mean and std, the resize rule, the layout, the arch, the source file and sadanet's version.\n"
      "               Runs in ONNX Runtime: onnxruntime.InferenceSession(OUT).run(None, {'input': x}).\n"
      "  torchvision  the state dict under torchvision's names, as torch.save writes it (a .pth zip):\n"
      "               torchvision.models.resnet50(num_classes=C).load_state_dict(torch.load(OUT,\n"
      "               weights_only=True), strict=True). resnet-tiny models load into\n"
      "               torchvision.models.resnet.ResNet(Bottleneck, [1, 1, 1, 1], num_classes=C). A .pth, not\n"
      "               safetensors, so that torch alone reads it (Debian 12 has no python3-safetensors). The\n"
      "               same metadata is in the record archive/sadanet.json of the zip; torch.load ignores it.\n"
      "The input is preprocessed as for `sadanet eval`: bilinear resize to S x S, x / 255, (x - mean) / std.\n"
      "OUT is replaced if it exists (atomically: a failed export leaves it as it was).");
  c->add_option("--model", a->model, "A run's final.safetensors or last.safetensors, a checkpoint, or a torchvision "
                "ResNet-50 (.pth or .safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("--format", a->format, "onnx or torchvision")->required()->check(CLI::IsMember({"onnx", "torchvision"}));
  c->add_option("-o,--output", a->out, "The file to write (its folder must exist)")->required()->check(output_file());
  c->callback([a] { run(*a); });
}

}  // namespace sadanet::cli
