// Subcommands of the `sadanet` tool. Each lives in its own cmd_<name>.cpp and exposes one
// register function, listed in kCommands in main.cpp; adding a command touches only those two.
//
// A register function adds its subcommand to `app` and sets the callback. A callback reports
// failure by throwing CLI::RuntimeError(exit_code) after printing why; sadanet::Error and other
// exceptions that escape are printed by main() and exit with 1.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace sadanet::cli {

// Number checks whose messages say what was expected ("expected a number >= 0, got -5");
// CLI11's own NonNegativeNumber/PositiveNumber print the double range's 309 digits.
inline CLI::Validator sign_check(bool zero_ok) {
  return CLI::Validator(
      [zero_ok](std::string& in) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(in, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != in.size() || used == 0) return "expected a number, got '" + in + "'";
        if (zero_ok ? v >= 0 : v > 0) return "";
        return std::string("expected a number ") + (zero_ok ? ">= 0" : "> 0") + ", got " + in;
      },
      zero_ok ? "NONNEGATIVE" : "POSITIVE");
}
inline CLI::Validator non_negative() { return sign_check(true); }
inline CLI::Validator positive() { return sign_check(false); }

void register_info(CLI::App& app);       // build options, CPU, threads, GPUs
void register_selfcheck(CLI::App& app);  // quick end-to-end correctness checks
void register_import_weights(CLI::App& app);  // .pth/.safetensors -> .safetensors
void register_predict(CLI::App& app);         // top-5 classes per image
void register_bench(CLI::App& app);      // model throughput, images/s
void register_synth(CLI::App& app);      // synthetic multi-domain white-cell dataset
void register_train(CLI::App& app);      // one leave-one-domain-out training run (ERM or SADA)
void register_eval(CLI::App& app);       // a trained model on a domain: F1, per class, confusion
void register_protocol(CLI::App& app);   // every target x method x trial, results table
void register_augment(CLI::App& app);    // SADA stain augmentation of a folder: contact sheets, stains
void register_export(CLI::App& app);     // a trained model as ONNX or a torchvision state dict

}  // namespace sadanet::cli
