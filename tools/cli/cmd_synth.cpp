// `sadanet synth`: writes a small multi-domain dataset of synthetic stained white cells,
// <out>/<domain>/<class>/<class>_NNNN.png, for tests, demos and smoke runs of training.
#include <chrono>
#include <iostream>
#include <memory>

#include "commands.h"
#include "sadanet/data/synth.h"

namespace sadanet::cli {

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a small multi-domain dataset of synthetic stained white blood cells");
  auto opts = std::make_shared<data::SynthOptions>();
  // The command's defaults mirror the paper's setting: four domains (every leave-one-out fold has
  // three sources, as the paper's four datasets give) and real labs' class imbalance.
  opts->domains = 4;
  opts->balanced = false;
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "Output folder (created; files of the same names are replaced)")->required();
  cmd->add_option("--domains", opts->domains, "Number of domains (synthA, synthB, ...)")
      ->check(CLI::Range(1, 26))
      ->capture_default_str();
  cmd->add_option("--per-class", opts->per_class,
                  "Images per class and domain with --balanced, else of the largest class (neutrophil)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--size", opts->size, "Image side in pixels")->check(CLI::Range(32, 1024))->capture_default_str();
  cmd->add_flag("--balanced", opts->balanced,
                "Every class per-class times in every domain (default: imbalanced like real labs, see synth.h)");
  cmd->add_option("--seed", opts->seed, "Seed: the same seed writes the same files")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "Writer threads (0 = all cores)")->check(non_negative());
  cmd->callback([opts, out] {
    const auto t0 = std::chrono::steady_clock::now();
    data::SynthSummary s = data::write_synth_dataset(*out, *opts);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "wrote " << s.images << " images (" << opts->size << "x" << opts->size << ") to " << *out << " in "
              << secs << " s\n  domains:";
    for (const auto& d : s.domains) std::cout << " " << d;
    std::cout << "\n  classes:";
    for (const auto& c : s.classes) std::cout << " " << c;
    if (opts->balanced) {
      std::cout << " (" << opts->per_class << " each per domain)\n";
    } else {
      std::cout << "\n  images per class (" << s.classes.size() << " classes, in that order):";
      for (int d = 0; d < opts->domains; ++d) {
        std::cout << "\n    " << s.domains[d] << ":";
        for (int c : data::synth_class_counts(d, opts->per_class, false)) std::cout << " " << c;
      }
      std::cout << "\n";
    }
  });
}

}  // namespace sadanet::cli
