// Entry point of the `sadanet` tool: the command table, --help/--version, and error reporting.
#include <algorithm>
#include <exception>
#include <string>
#include <vector>
#include <iostream>

#include "commands.h"
#include "sadanet/error.h"
#include "sadanet/runtime.h"

namespace {

using Register = void (*)(CLI::App&);
// One line per subcommand, in the order --help lists them.
constexpr Register kCommands[] = {
    sadanet::cli::register_info,
    sadanet::cli::register_selfcheck,
    sadanet::cli::register_import_weights,
    sadanet::cli::register_predict,
    sadanet::cli::register_bench,
    sadanet::cli::register_synth,
    sadanet::cli::register_train,
    sadanet::cli::register_eval,
    sadanet::cli::register_protocol,
    sadanet::cli::register_augment,
    sadanet::cli::register_export,
};

// The (sub)command that was being parsed when an error came.
const CLI::App* deepest(const CLI::App* app) {
  const CLI::App* d = app;
  for (auto subs = d->get_subcommands(); !subs.empty(); subs = d->get_subcommands()) d = subs.front();
  return d;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// "--step1" -> "--steps1": the closest long option of `cmd` within two edits, or "".
std::string closest_option(const CLI::App* cmd, const std::string& arg) {
  std::string word = arg.substr(0, arg.find('='));
  while (!word.empty() && word.front() == '-') word.erase(0, 1);
  std::string best;
  size_t best_d = 3;
  for (const CLI::Option* o : cmd->get_options())
    for (const std::string& name : o->get_lnames()) {
      const size_t d = edit_distance(word, name);
      if (d < best_d) best_d = d, best = "--" + name;
    }
  return best;
}

// On a parse error: one line saying what was wrong (with the nearest option for a typo), and
// where the usage is; --help prints it. Every usage error exits with 2, as getopt tools do.
std::string explain(const CLI::App* app, const CLI::Error& e) {
  const CLI::App* cmd = deepest(app);
  std::string name = cmd == app ? "sadanet" : "sadanet " + cmd->get_name();
  std::string out = name + ": error: " + e.what() + "\n";
  for (const std::string& extra : cmd->remaining()) {
    if (extra.rfind("-", 0) == 0) {
      const std::string hint = closest_option(cmd, extra);
      if (!hint.empty()) out += name + ": did you mean " + hint + " (for " + extra + ")?\n";
    } else if (cmd == app) {
      for (const CLI::App* sub : app->get_subcommands({}))
        if (edit_distance(extra, sub->get_name()) <= 2) out += "sadanet: did you mean " + sub->get_name() + "?\n";
    }
  }
  return out + "see '" + name + " --help' for the options\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sadanet: a C++20 deep-learning engine for SADA (stain-aware domain alignment "
               "for white-blood-cell classification)",
               "sadanet"};
  app.set_version_flag("--version", "sadanet " + sadanet::version());
  app.failure_message(explain);
  for (Register r : kCommands) r(app);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {  // checked here, so that an unknown word is reported as such
      std::cerr << "sadanet: error: expected a command\n\n" << app.help();
      return 2;
    }
  } catch (const CLI::ParseError& e) {
    // A command's own failure (CLI::RuntimeError(code), already explained) keeps its code.
    if (dynamic_cast<const CLI::RuntimeError*>(&e)) return e.get_exit_code();
    const int rc = app.exit(e);  // prints --help/--version (rc 0) or the explanation
    return rc == 0 ? 0 : 2;
  } catch (const sadanet::Error& e) {
    std::cerr << "sadanet: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sadanet: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
