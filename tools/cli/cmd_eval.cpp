// `sadanet eval`: a trained model (final/last.safetensors or a checkpoint) on one domain's test
// part or all of it, with the classes, image size and split seed saved in the file (every number
// there bounded: see TrainConfig::check_file_limits; --size overrides the file's image size).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "sadanet/io/files.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/evaluate.h"

namespace sadanet::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, data, domain, split = "test", out, device;
  bool json = false;
  int batch = 64;
  int threads = 2;
  int64_t max_pixels = data::kDefaultMaxPixels;
  int size = 0;  // 0: the file's (at most train::kMaxEvalSizeFromFile)
};

void run(const EvalArgs& a) {
  // --data and --domain default to the run's own dataset and target.
  std::string data = a.data, domain = a.domain;
  if (data.empty() || domain.empty()) {
    const train::LoadedFile f = train::load_checkpoint_file(a.checkpoint);
    if (data.empty()) data = f.config.data;
    if (domain.empty()) domain = f.config.target;
  }
  train::EvalReport r = train::evaluate_model_file(a.checkpoint, data, domain, a.split, a.batch, a.device, a.threads,
                                                   a.max_pixels, a.size);
  // Unreadable files are reported whatever the output format (stderr), so a count that is short
  // of the files on disk never passes silently.
  for (const auto& b : r.skipped) std::cerr << "data: skipping unreadable " << b.reason << "\n";
  const eval::Metrics& m = r.metrics;
  if (a.json) {
    std::cout << m.to_json() << "\n";
  } else {
    for (const auto& w : r.warnings) std::cerr << "data: warning: " << w << "\n";
    std::cout << a.checkpoint << " on " << domain << " (" << (a.split == "all" ? "all images" : "test part") << ", "
              << r.images << " images";
    if (!r.skipped.empty()) std::cout << " of " << r.files << " files, " << r.skipped.size() << " unreadable skipped";
    std::cout << "; split seed " << r.split_seed << ")\n";
    std::cout << "F1-micro " << m.f1_micro << "   F1-macro " << m.f1_macro << " (averaged over the "
              << m.macro_over.size() << " classes present:";
    for (int c : m.macro_over) std::cout << " " << m.classes[c];
    std::cout << ")\n\n" << m.table();
  }
  if (!a.out.empty()) {
    std::filesystem::create_directories(a.out);
    io::write_file_atomic(a.out + "/metrics.json", m.to_json() + "\n");
    eval::save_confusion_png(a.out + "/confusion.png", m, domain + " (" + a.split + ")");
    if (!a.json) std::cout << "wrote " << a.out << "/metrics.json and " << a.out << "/confusion.png\n";
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained model on a domain: F1-micro/macro, per class, confusion");
  cmd->add_option("--checkpoint", a->checkpoint, "final.safetensors, last.safetensors or a ckpt-*.safetensors")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data, "Dataset folder (default: the run's)");
  cmd->add_option("--domain", a->domain, "Domain to evaluate (default: the run's target)");
  cmd->add_option("--split", a->split, "test (the domain's test part under the run's split seed) or all")
      ->check(CLI::IsMember({"test", "all"}));
  cmd->add_flag("--json", a->json, "Print the metrics as JSON");
  cmd->add_option("--out", a->out, "Also write metrics.json and confusion.png here");
  cmd->add_option("--batch", a->batch, "Images per batch")->check(CLI::Range(1, 4096));
  cmd->add_option("--device", a->device, "cpu or cuda[:N] (default: the run's)");
  cmd->add_option("--size", a->size, "Image size (default: the run's, if at most 1024)")->check(CLI::Range(32, 4096));
  cmd->add_option("--loader-threads", a->threads, "Image decoding threads")->check(CLI::Range(1, 256));
  cmd->add_option("--max-pixels", a->max_pixels, "Refuse image files whose header declares more pixels (default 64 MP)")
      ->check(positive());
  cmd->callback([a] { run(*a); });
}

}  // namespace sadanet::cli
