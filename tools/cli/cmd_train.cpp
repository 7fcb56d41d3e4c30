// `sadanet train`: one leave-one-domain-out training run (ERM or SADA, SWAD over the last stage)
// into RUNDIR, then the evaluation of final.safetensors on the target domain.
// Exit codes: 0 done; 130, 143, 129 interrupted by SIGINT (Ctrl-C), SIGTERM, SIGHUP after writing a
// checkpoint (continue with --resume); 3 a loss became NaN/Inf; 1 errors (bad data folder, unknown
// target, unreadable checkpoint, a checkpoint or log that cannot be written, another process on
// the same RUNDIR, ...); 2 usage errors.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "console_tee.h"
#include "sadanet/runtime.h"
#include "sadanet/train/run_dir.h"
#include "sadanet/train/trainer.h"
#include <csignal>
#include "train_options.h"

namespace sadanet::cli {
namespace {

struct TrainArgs {
  std::string data, target, method = "sada", out;
  bool resume = false, allow_nondeterministic = false, keep_checkpoints = false;
  std::string dir_mode = "700";
  TrainOptions options;
};

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void run(TrainArgs& a, CLI::App* cmd) {
  train::TrainConfig cfg;
  const std::string saved = a.out + "/config.json";
  if (a.resume && std::filesystem::exists(saved)) {
    // The saved config is the run's; only what was typed now overrides it (and the trainer
    // refuses overrides that would change the run).
    cfg = a.options.apply(train::config_from_json(read_text(saved)));
  } else {
    cfg = a.options.make();
    cfg.method = train::method_from_name(a.method);  // default sada
  }
  if (cmd->count("--data")) cfg.data = a.data;
  if (cmd->count("--target")) cfg.target = a.target;
  if (cmd->count("--method")) cfg.method = train::method_from_name(a.method);
  if (cfg.data.empty() || cfg.target.empty()) {
    std::cerr << "sadanet train: error: expected --data DIR and --target DOMAIN (a domain folder of DIR, held out "
                 "for testing)\n";
    throw CLI::RuntimeError(2);
  }
  cfg.validate();  // before RUNDIR exists
  require_device(cfg.device, "train");
  train::RunOptions ro;
  ro.out = a.out;
  ro.resume = a.resume;
  ro.dir_mode = parse_dir_mode(a.dir_mode);
  ro.allow_nondeterministic_resume = a.allow_nondeterministic;
  ro.keep_checkpoints = a.keep_checkpoints;
  // The lock covers the evaluation too (test_metrics.json is written into RUNDIR).
  train::create_run_dir(a.out, ro.dir_mode);
  train::RunDirLock lock(a.out, "train");
  ro.take_lock = false;
  train::check_run_dir_links(a.out);  // log.txt among them, before it is opened
  ConsoleTee tee(a.out + "/log.txt");
  train::TrainResult r = train::run_training(cfg, ro);
  switch (r.status) {
    case train::TrainStatus::interrupted:
      std::cerr << "sadanet train: " << r.message << "\n";
      throw CLI::RuntimeError(128 + (r.signal ? r.signal : SIGINT));
    case train::TrainStatus::diverged:
      std::cerr << "sadanet train: error: " << r.message << "\n";
      throw CLI::RuntimeError(3);
    case train::TrainStatus::failed:
      std::cerr << "sadanet train: error: " << r.message << "\n";
      throw CLI::RuntimeError(1);
    case train::TrainStatus::completed:
      break;
  }
  std::cerr << "trained " << r.steps_run << " steps in " << r.seconds << " s; models in " << r.rundir << "\n";
  for (const auto& e : r.checkpoint_errors) std::cerr << "warning: " << e << "\n";
  evaluate_run(r.rundir, r.config, /*print=*/true);
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train ERM or SADA with one domain held out, then evaluate on it");
  cmd->add_option("--data", a->data, "Dataset folder <DIR>/<domain>/<class>/<image>");
  cmd->add_option("--target", a->target, "Held-out (target) domain");
  cmd->add_option("--method", a->method, "sada (default) or erm")->check(CLI::IsMember({"sada", "erm"}));
  cmd->add_option("--out", a->out, "Run folder (RUNDIR)")->required();
  cmd->add_flag("--resume", a->resume, "Continue the run in RUNDIR from its latest checkpoint");
  cmd->add_flag("--keep-checkpoints", a->keep_checkpoints,
                "Keep the training checkpoints when the run completes (default: removed; the models stay)");
  cmd->add_flag("--allow-nondeterministic-resume", a->allow_nondeterministic,
                "Resume even with another --threads or --device than the checkpoint's (not bit-exact)");
  cmd->add_option("--dir-mode", a->dir_mode, "Permissions of RUNDIR when created, octal (default 700: private)");
  a->options.add(cmd, /*with_seed=*/true);
  cmd->callback([a, cmd] { run(*a, cmd); });
}

}  // namespace sadanet::cli
