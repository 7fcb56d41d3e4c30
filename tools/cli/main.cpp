// Entry point of the `sadanet` tool: the command table, --help/--version, and error reporting.
#include <exception>
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
};

// On a parse error: the error, then the usage of the (sub)command that was being parsed, so the
// user sees what was expected.
std::string explain(const CLI::App* app, const CLI::Error& e) {
  const CLI::App* deepest = app;
  for (auto subs = deepest->get_subcommands(); !subs.empty(); subs = deepest->get_subcommands())
    deepest = subs.front();
  return "sadanet: error: " + std::string(e.what()) + "\n\n" + deepest->help();
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
    return app.exit(e);
  } catch (const sadanet::Error& e) {
    std::cerr << "sadanet: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sadanet: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
