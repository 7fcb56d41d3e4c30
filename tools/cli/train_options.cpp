#include "commands.h"
#include "train_options.h"

#include "sadanet/io/files.h"

#include <fstream>
#include <iostream>

#include "sadanet/data/dataset.h"
#include "sadanet/eval/metrics.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model_card.h"

namespace sadanet::cli {

template <class T>
CLI::Option* TrainOptions::add_opt(CLI::App* cmd, const std::string& flag, const std::string& help,
                                   std::function<void(train::TrainConfig&, const T&)> set) {
  auto value = std::make_shared<T>();
  CLI::Option* o = cmd->add_option(flag, *value, help);
  items_.emplace_back(o, [value, set](train::TrainConfig& c) { set(c, *value); });
  return o;
}

void TrainOptions::add(CLI::App* cmd, bool with_seed) {
  using C = train::TrainConfig;
  const C d;  // defaults, shown in --help
  auto str = [](auto v) { return std::to_string(v); };
  preset_opt_ = cmd->add_option("--preset", *preset_,
                                "paper (default) or reference-code: beta 0, each-sample SupCon anchors, stage 2 full, "
                                "BN frozen, the authors' stain variant; later options override it")
                    ->check(CLI::IsMember({"paper", "reference-code"}));
  add_opt<std::string>(cmd, "--arch", "Backbone: resnet50 (default) or resnet-tiny (one block per stage, for CPU demos)",
                       [](C& c, const std::string& v) { c.arch = train::arch_from_name(v); })
      ->check(CLI::IsMember({"resnet50", "resnet-tiny"}));
  add_opt<int64_t>(cmd, "--steps1", "SADA stage-1 steps (default " + str(d.steps1) + ")",
                   [](C& c, const int64_t& v) { c.steps1 = v; })->check(non_negative());
  add_opt<int64_t>(cmd, "--steps2", "SADA stage-2 steps (default " + str(d.steps2) + ")",
                   [](C& c, const int64_t& v) { c.steps2 = v; })->check(non_negative());
  add_opt<int64_t>(cmd, "--steps-erm", "ERM steps (default: steps1 + steps2)",
                   [](C& c, const int64_t& v) { c.steps_erm = v; })->check(non_negative());
  add_opt<int>(cmd, "--batch", "Images per source domain per step (default " + str(d.batch) + ")",
               [](C& c, const int& v) { c.batch = v; })->check(CLI::Range(1, 4096));
  add_opt<int>(cmd, "--size", "Image side (default " + str(d.size) + ")", [](C& c, const int& v) { c.size = v; })
      ->check(CLI::Range(32, 4096));
  add_opt<std::string>(cmd, "--device", "cpu (default), cuda or cuda:N", [](C& c, const std::string& v) { c.device = v; });
  if (with_seed)
    add_opt<uint64_t>(cmd, "--seed", "Seed of the initialisation, loader, augmentation and split (default 0)",
                      [](C& c, const uint64_t& v) { c.seed = v; });
  add_opt<double>(cmd, "--lr", "Adam learning rate, both stages (default 5e-5)", [](C& c, const double& v) { c.lr = v; })
      ->check(positive());
  add_opt<std::string>(cmd, "--bn", "Batch norm while training: train (default) or frozen (running statistics)",
                       [](C& c, const std::string& v) { c.bn = batch_norm_mode_from_name(v); })
      ->check(CLI::IsMember({"train", "frozen"}));
  add_opt<std::string>(cmd, "--stage2", "classifier (default: backbone frozen, fc trains) or full",
                       [](C& c, const std::string& v) { c.stage2 = train::stage2_from_name(v); })
      ->check(CLI::IsMember({"classifier", "full"}));
  add_opt<double>(cmd, "--beta", "Weight of the local-alignment loss (default 0.1)",
                  [](C& c, const double& v) { c.beta = v; })->check(non_negative());
  add_opt<double>(cmd, "--tau", "Contrastive temperature (default 0.1)", [](C& c, const double& v) { c.tau = v; })
      ->check(positive());
  add_opt<std::string>(cmd, "--k",
                       "Stain clusters: k-1 re-stained views per image; auto (default): the number of source domains",
                       [](C& c, const std::string& v) { c.k = v == "auto" ? 0 : std::stoi(v); })
      ->check(CLI::IsMember({"auto"}) | CLI::Range(2, 16));
  add_opt<std::string>(cmd, "--anchor", "Contrastive anchors: view_mean (paper) or each_sample (SupCon)",
                       [](C& c, const std::string& v) { c.anchor = train::anchor_from_name(v); })
      ->check(CLI::IsMember({"view_mean", "each_sample", "view-mean", "each-sample"}));
  add_opt<std::string>(cmd, "--stain", "Stain augmentation variant: paper or reference-code",
                       [](C& c, const std::string& v) { c.stain = stain::variant_from_name(v); })
      ->check(CLI::IsMember({"paper", "reference-code", "reference_code"}));
  add_opt<bool>(cmd, "--la-image-mean", "LA loss: average over originals instead of the paper's sum (true/false)",
                [](C& c, const bool& v) { c.la_image_mean = v; });
  add_opt<int64_t>(cmd, "--la-hidden", "LA head hidden width (default 2048)",
                   [](C& c, const int64_t& v) { c.la_hidden = v; })->check(positive());
  add_opt<int64_t>(cmd, "--la-out", "LA head output width (default 128)", [](C& c, const int64_t& v) { c.la_out = v; })
      ->check(positive());
  add_opt<std::string>(cmd, "--projector", "Contrastive projector: linear (default, 128) or mlp",
                       [](C& c, const std::string& v) { c.projector = train::projector_from_name(v); })
      ->check(CLI::IsMember({"linear", "mlp"}));
  add_opt<int64_t>(cmd, "--proj-dim", "Projector output width (default 128)",
                   [](C& c, const int64_t& v) { c.proj_dim = v; })->check(positive());
  add_opt<bool>(cmd, "--swad", "SWAD over the last stage (true/false, default true)",
                [](C& c, const bool& v) { c.swad.enabled = v; });
  add_opt<int64_t>(cmd, "--swad-every", "SWAD: validation loss every N steps (default: stage steps / 40)",
                   [](C& c, const int64_t& v) { c.swad.eval_every = v; })->check(non_negative());
  add_opt<int>(cmd, "--swad-n-converge", "SWAD n_converge (default 3)", [](C& c, const int& v) { c.swad.n_converge = v; })
      ->check(positive());
  add_opt<int>(cmd, "--swad-n-tolerance", "SWAD n_tolerance (default 6)",
               [](C& c, const int& v) { c.swad.n_tolerance = v; })->check(positive());
  add_opt<double>(cmd, "--swad-tolerance-ratio", "SWAD tolerance_ratio (default 0.3)",
                  [](C& c, const double& v) { c.swad.tolerance_ratio = v; })->check(non_negative());
  add_opt<int64_t>(cmd, "--swad-bn-steps", "Batches re-estimating BN statistics of the average (default 500, at most the stage's steps)",
                   [](C& c, const int64_t& v) { c.swad.bn_steps = v; })->check(non_negative());
  add_opt<bool>(cmd, "--swad-early-stop", "Stop the stage when the loss valley ends (true/false, default true)",
                [](C& c, const bool& v) { c.swad.early_stop = v; });
  add_opt<double>(cmd, "--swad-min-share",
                  "Ship the SWAD average only if it spans this share of the stage, else the last model (default 0.1)",
                  [](C& c, const double& v) { c.swad.min_share = v; })->check(CLI::Range(0.0, 1.0));
  add_opt<std::string>(cmd, "--stage2-optimizer",
                       "carry (default: one Adam state across both stages, as the authors) or fresh",
                       [](C& c, const std::string& v) { c.stage2_fresh_optimizer = v == "fresh"; })
      ->check(CLI::IsMember({"carry", "fresh"}));
  CLI::Option* weights = add_opt<std::string>(
      cmd, "--weights", "ImageNet ResNet-50 weights (torchvision names, safetensors or .pth; fc dropped)",
      [](C& c, const std::string& v) { c.weights = v; });
  weights->check(CLI::ExistingFile);
  add_opt<std::string>(cmd, "--initial-checkpoint",
                       "Fine-tune from a sadanet model (a run's final.safetensors, last.safetensors or checkpoint): "
                       "its backbone, and its classifier when the class lists are the same",
                       [](C& c, const std::string& v) { c.weights = v; })
      ->check(CLI::ExistingFile)
      ->excludes(weights);
  CLI::Option* classes = add_opt<std::string>(
      cmd, "--classes", "Class folder names, in label order, comma-separated (default: basophil,eosinophil,lymphocyte,"
                        "monocyte,neutrophil)",
      [](C& c, const std::string& v) {
        data::ClassList l = data::parse_class_list(v);
        c.classes = l.classes;
        c.class_folders = l.folder_classes;
      });
  classes->check(CLI::Validator(
      [](std::string& v) -> std::string {  // a usage error (exit 2), found before anything runs
        try {
          data::parse_class_list(v);
          return "";
        } catch (const Error& e) {
          return e.what();
        }
      },
      "LIST"));
  add_opt<std::string>(cmd, "--class-map",
                       "A file of one class per line in label order, each optionally followed by ':' and the folders "
                       "that hold it (\"neutrophil: band, segmented\"); '#' comments",
                       [](C& c, const std::string& v) {
                         data::ClassList l = data::read_class_map(v);
                         c.classes = l.classes;
                         c.class_folders = l.folder_classes;
                       })
      ->check(CLI::ExistingFile)
      ->excludes(classes);
  add_opt<std::string>(cmd, "--target-eval", "Target images evaluated: all (default; never trained on) or test (its 20%)",
                       [](C& c, const std::string& v) { c.target_eval = v; })->check(CLI::IsMember({"test", "all"}));
  add_opt<int>(cmd, "--threads", "CPU compute threads (default: all)", [](C& c, const int& v) { c.threads = v; })
      ->check(CLI::Range(0, 1024));
  add_opt<int>(cmd, "--loader-threads", "Image decoding threads (default 2)",
               [](C& c, const int& v) { c.loader_threads = v; })->check(CLI::Range(1, 256));
  add_opt<bool>(cmd, "--cache", "Keep decoded images in memory (true/false, default true)",
                [](C& c, const bool& v) { c.cache = v; });
  add_opt<int64_t>(cmd, "--max-pixels", "Refuse image files whose header declares more pixels (default 64 MP)",
                   [](C& c, const int64_t& v) { c.max_pixels = v; })->check(positive());
  add_opt<int>(cmd, "--eval-batch", "Batch size of validation and evaluation (default 64)",
               [](C& c, const int& v) { c.eval_batch = v; })->check(CLI::Range(1, 4096));
  add_opt<int64_t>(cmd, "--log-every", "Log (metrics.jsonl, log lines) every N steps (default 10)",
                   [](C& c, const int64_t& v) { c.log_every = v; })->check(positive());
  add_opt<int64_t>(cmd, "--ckpt-every",
                   "Checkpoint every N steps (default 100; also at stage ends and on Ctrl-C, SIGTERM, SIGHUP)",
                   [](C& c, const int64_t& v) { c.ckpt_every = v; })->check(positive());
  add_opt<double>(cmd, "--ckpt-minutes", "Also checkpoint when this many minutes passed since the last (default 10; 0: off)",
                  [](C& c, const double& v) { c.ckpt_minutes = v; })->check(CLI::Range(0.0, 1e6));
}

train::TrainConfig TrainOptions::apply(train::TrainConfig base) const {
  if (preset_opt_ && preset_opt_->count() > 0) train::apply_preset(base, *preset_);
  for (const auto& [opt, set] : items_)
    if (opt->count() > 0) set(base);
  return base;
}

train::TrainConfig TrainOptions::make() const {
  train::TrainConfig c;
  train::apply_preset(c, *preset_);
  for (const auto& [opt, set] : items_)
    if (opt->count() > 0) set(c);
  return c;
}

std::pair<double, double> evaluate_run(const std::string& rundir, const train::TrainConfig& cfg, bool print) {
  const std::string split = cfg.target_eval == "all" ? "all" : "test";
  train::EvalReport r = train::evaluate_model_file(rundir + "/final.safetensors", cfg.data, cfg.target, split,
                                                   cfg.eval_batch, cfg.device, cfg.loader_threads, cfg.max_pixels,
                                                   cfg.size);
  for (const auto& b : r.skipped) std::cerr << "data: skipping unreadable " << b.reason << "\n";
  io::write_file_atomic(rundir + "/test_metrics.json", r.metrics.to_json() + "\n");
  train::add_model_card_evaluation(rundir, cfg.target, split, r.metrics);
  eval::save_confusion_png(rundir + "/test_confusion.png", r.metrics,
                           std::string(train::method_name(cfg.method)) + " on " + cfg.target);
  if (print) {
    std::cout << "\n" << train::method_name(cfg.method) << " -> " << cfg.target << " (" << split << " part, " << r.images
              << " images";
    if (!r.skipped.empty()) std::cout << " of " << r.files << " files, " << r.skipped.size() << " unreadable skipped";
    std::cout << "), final.safetensors:\n"
              << r.metrics.table();
  }
  return {r.metrics.f1_micro, r.metrics.f1_macro};
}

unsigned parse_dir_mode(const std::string& text) {
  unsigned mode = 0;
  bool ok = !text.empty() && text.size() <= 4;
  for (char ch : text) ok = ok && ch >= '0' && ch <= '7';
  if (ok) mode = static_cast<unsigned>(std::stoul(text, nullptr, 8));
  if (!ok || mode > 0777) throw Error("--dir-mode: expected an octal mode such as 700 or 750, got '" + text + "'");
  if ((mode & 0700) != 0700) throw Error("--dir-mode " + text + ": the owner needs rwx (7xx) on the run folder");
  return mode;
}

}  // namespace sadanet::cli
