// `sadanet protocol`: the paper's leave-one-domain-out evaluation. For every method, every domain
// as the target and every trial (seed = trial) it trains into OUT/<method>/<target>/trial<t>
// (continuing a run a previous invocation left unfinished, reusing finished ones), evaluates
// final.safetensors on the target, and writes OUT/results.md, results.csv and runs.csv.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "console_tee.h"
#include "sadanet/io/files.h"
#include "sadanet/train/run_dir.h"
#include "sadanet/data/dataset.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/config.h"
#include "sadanet/train/protocol.h"
#include "sadanet/train/trainer.h"
#include "train_options.h"

namespace sadanet::cli {
namespace {

namespace fs = std::filesystem;

struct ProtocolArgs {
  std::string data, methods = "erm,sada", out, targets;
  int trials = 3;
  std::string dir_mode = "700";
  bool keep_checkpoints = false;
  TrainOptions options;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// A finished run's scores, from its test_metrics.json.
bool read_scores(const std::string& rundir, train::RunScore& s) {
  std::ifstream f(rundir + "/test_metrics.json");
  if (!f || !fs::exists(rundir + "/final.safetensors")) return false;
  try {
    auto j = nlohmann::json::parse(f);
    s.f1_micro = j.at("f1_micro").get<double>();
    s.f1_macro = j.at("f1_macro").get<double>();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;  // torn or foreign file: evaluate again
  }
}

void write_file(const std::string& path, const std::string& text) { io::write_file_atomic(path, text); }

// Refuses a finished run whose config.json differs from `want` in anything that changes the
// result (runtime settings such as threads or the data path may differ), listing the options.
void check_same_settings(const std::string& dir, const train::TrainConfig& want) {
  std::ifstream f(dir + "/config.json");
  std::ostringstream text;
  text << f.rdbuf();
  train::TrainConfig had;
  try {
    had = train::config_from_json(text.str());
  } catch (const Error& e) {
    throw Error("protocol: " + dir + " holds a finished run whose config.json cannot be read (" + e.what() +
                "); remove that folder to train it again, or use another --out");
  }
  const std::vector<std::string> diff = want.identity_diff(had);
  if (diff.empty()) return;
  std::string list;
  for (const auto& d : diff) list += "\n  " + d + " (requested vs that run's)";
  throw Error("protocol: " + dir + " holds a finished run trained with other settings:" + list +
              "\nits results would be reported under this command's settings: use another --out, or remove the "
              "finished runs to train them again");
}

// The settings every run of the study shares, for the results: what a reader must know to trust
// the table (the config less what differs per run and what does not change results).
std::string settings_block(const train::TrainConfig& base) {
  nlohmann::json j = nlohmann::json::parse(train::config_to_json(base));
  for (const char* k : {"data", "target", "method", "seed", "device", "threads", "loader_threads", "cache",
                        "max_pixels", "eval_batch", "log_every", "ckpt_every", "ckpt_minutes"})
    j.erase(k);
  return "\nSettings of every run (seed = trial; `config.json` in each run folder has the rest):\n\n```json\n" +
         j.dump() + "\n```\n";
}

void run(ProtocolArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> methods = split_list(a.methods);
  if (methods.empty()) throw Error("protocol: --methods: expected a comma-separated list of erm, sada; got '" + a.methods + "'");
  for (const auto& m : methods) train::method_from_name(m);  // throws naming the accepted values
  const train::TrainConfig base = a.options.make();
  data::ScanOptions scan;
  scan.classes = base.classes;
  scan.folder_classes = base.class_folders;
  const data::Dataset ds = data::scan_dataset(a.data, scan);
  std::vector<std::string> targets = a.targets.empty() ? ds.domains : split_list(a.targets);
  for (const auto& t : targets) ds.domain_index(t);  // throws naming the domains present
  if (ds.domains.size() < 2) throw Error("protocol: leave-one-domain-out needs at least two domains, " + a.data + " has " +
                                         std::to_string(ds.domains.size()));
  train::create_run_dir(a.out, parse_dir_mode(a.dir_mode));
  // One protocol per folder: two would train the same runs and interleave results.md.
  train::RunDirLock lock(a.out, "protocol");
  train::check_run_dir_links(a.out);
  ConsoleTee tee(a.out + "/log.txt");  // every run's console output, in order

  std::vector<train::RunScore> scores;
  bool failed = false;
  const size_t total = methods.size() * targets.size() * static_cast<size_t>(a.trials);
  size_t index = 0;
  for (const auto& m : methods)
    for (const auto& target : targets)
      for (int trial = 0; trial < a.trials; ++trial) {
        ++index;
        train::RunScore s{m, target, trial};
        const std::string dir = train::protocol_rundir(a.out, m, target, trial);
        std::cerr << "\n== run " << index << "/" << total << ": " << m << ", target " << target << ", trial " << trial
                  << " -> " << dir << "\n";
        train::TrainConfig cfg = base;
        cfg.data = a.data;
        cfg.target = target;
        cfg.method = train::method_from_name(m);
        cfg.seed = static_cast<uint64_t>(trial);
        if (read_scores(dir, s)) {
          // A finished run counts only if it was trained with these settings; otherwise its
          // numbers would go into this table under this command line.
          check_same_settings(dir, cfg);
          s.ok = true;
          std::cerr << "already done (same settings): F1-micro " << s.f1_micro << ", F1-macro " << s.f1_macro << "\n";
          scores.push_back(s);
          continue;
        }
        if (fs::exists(dir + "/final.safetensors") && train::find_checkpoint(dir).empty()) {
          // Trained and its checkpoints removed, but not evaluated (the evaluation failed or was
          // interrupted): evaluate it, without training again.
          check_same_settings(dir, cfg);
          std::tie(s.f1_micro, s.f1_macro) = evaluate_run(dir, cfg, /*print=*/false);
          s.ok = true;
          std::cerr << "trained earlier, evaluated now: F1-micro " << s.f1_micro << ", F1-macro " << s.f1_macro << "\n";
          scores.push_back(s);
          continue;
        }
        train::RunOptions ro;
        ro.out = dir;
        ro.resume = true;  // continues an unfinished run; a fresh folder starts from step 0
        ro.dir_mode = parse_dir_mode(a.dir_mode);
        ro.keep_checkpoints = a.keep_checkpoints;
        train::TrainResult r = train::run_training(cfg, ro);
        if (r.status == train::TrainStatus::interrupted) {
          std::cerr << "sadanet protocol: " << r.message << "\n(run the same command again to continue)\n";
          throw CLI::RuntimeError(128 + (r.signal ? r.signal : SIGINT));
        }
        if (r.status == train::TrainStatus::failed) {
          std::cerr << "sadanet protocol: error: " << r.message << "\n";
          throw CLI::RuntimeError(1);
        }
        if (r.status == train::TrainStatus::diverged) {
          std::cerr << "sadanet protocol: run failed: " << r.message << "\n";
          failed = true;
          scores.push_back(s);
          continue;
        }
        std::tie(s.f1_micro, s.f1_macro) = evaluate_run(dir, r.config, /*print=*/false);
        s.ok = true;
        std::cerr << m << " -> " << target << " trial " << trial << ": F1-micro " << s.f1_micro << ", F1-macro "
                  << s.f1_macro << " (" << r.seconds << " s)\n";
        scores.push_back(s);
      }

  train::ProtocolTables t = train::summarize_protocol(scores, methods, targets);
  write_file(a.out + "/results.md", t.markdown + settings_block(base));
  write_file(a.out + "/results.csv", t.csv);
  write_file(a.out + "/runs.csv", t.runs_csv);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "\n" << t.markdown << "\nwrote " << a.out << "/results.md, results.csv, runs.csv (" << secs << " s)\n";
  if (failed) {
    std::cerr << "sadanet protocol: some runs failed (see above); they are left out of the means\n";
    throw CLI::RuntimeError(3);
  }
}

}  // namespace

void register_protocol(CLI::App& app) {
  auto a = std::make_shared<ProtocolArgs>();
  CLI::App* cmd = app.add_subcommand("protocol",
                                     "Leave-one-domain-out: every target x method x trial, then the results table");
  cmd->add_option("--data", a->data, "Dataset folder <DIR>/<domain>/<class>/<image>")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--methods", a->methods, "Comma-separated: erm,sada (default)");
  cmd->add_option("--trials", a->trials, "Trials per target; trial t uses seed t (default 3)")->check(CLI::Range(1, 1000));
  cmd->add_option("--targets", a->targets, "Comma-separated target domains (default: every domain)");
  cmd->add_option("--out", a->out, "Output folder")->required();
  cmd->add_flag("--keep-checkpoints", a->keep_checkpoints,
                "Keep each run's training checkpoints when it completes (default: removed; the models stay)");
  cmd->add_option("--dir-mode", a->dir_mode, "Permissions of folders it creates, octal (default 700: private)");
  a->options.add(cmd, /*with_seed=*/false);
  cmd->callback([a] { run(*a); });
}

}  // namespace sadanet::cli
