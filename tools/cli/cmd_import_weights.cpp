// `sadanet import-weights IN -o OUT.safetensors [--dtype f32|bf16|f16]`: converts a PyTorch .pth
// (zip or legacy) or a safetensors file into sadanet's native safetensors, checking torchvision's
// hash-in-the-name convention on the way.
#include <filesystem>
#include <fstream>
#include <vector>
#include <iostream>
#include <regex>

#include "commands.h"
#include "sadanet/io/safetensors.h"
#include "sadanet/io/sha256.h"
#include "sadanet/io/weights.h"

namespace sadanet::cli {
namespace {

struct ImportArgs {
  std::string in, out, dtype = "f32";
  bool allow_nonfinite = false;
};

// torchvision names files <name>-<first 8+ hex digits of the SHA-256>.pth.
void check_name_hash(const std::string& path) {
  static const std::regex pattern(R"(^.*-([0-9a-f]{8,64})\.(pth|pt|pth\.tar)$)");
  std::smatch m;
  std::string base = std::filesystem::path(path).filename().string();
  if (!std::regex_match(base, m, pattern)) return;
  const std::string want = m[1].str();
  const std::string got = io::sha256_file_hex(path);
  if (got.compare(0, want.size(), want) == 0)
    std::cout << "sha256 " << got.substr(0, 16) << "... matches the name (" << want << ")\n";
  else
    std::cerr << "warning: " << base << " should have a SHA-256 starting with " << want << ", but it is " << got
              << " (a partial or altered download?)\n";
}

const char* format_of_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> head(4096);
  f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  return io::weights_format_name(io::detect_weights_format(head.data(), static_cast<size_t>(f.gcount())));
}

void run_import(const ImportArgs& a) {
  const DType target = dtype_from_name(a.dtype);
  SADANET_CHECK(target == DType::f32 || target == DType::bf16 || target == DType::f16,
                "import-weights: --dtype must be f32, bf16 or f16, got ", a.dtype);
  check_name_hash(a.in);
  io::TensorFile f = io::load_weights(a.in);
  if (!a.allow_nonfinite) io::check_finite(f, a.in);
  io::NamedTensors out;
  size_t bytes = 0;
  for (auto& [name, t] : f.tensors) {
    Tensor c = is_floating(t.dtype()) ? t.to(target) : t;  // integer buffers keep their type
    bytes += c.nbytes();
    out.emplace_back(name, c);
  }
  auto meta = f.metadata;
  meta["sadanet.source"] = std::filesystem::path(a.in).filename().string();
  meta["sadanet.source_format"] = format_of_file(a.in);
  io::write_safetensors(a.out, out, meta);
  std::cout << "wrote " << out.size() << " tensors, " << bytes << " bytes (" << bytes / 1e6 << " MB, " << a.dtype
            << ") to " << a.out << "\n";
}

}  // namespace

void register_import_weights(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* c = app.add_subcommand("import-weights", "Convert PyTorch .pth (zip or legacy) or safetensors weights to safetensors");
  c->add_option("input", a->in, "Weights file (.pth, .pt or .safetensors; the content decides)")->required()->check(CLI::ExistingFile);
  c->add_option("-o,--output", a->out, "Output .safetensors file")->required();
  c->add_option("--dtype", a->dtype, "Floating-point type of the output")->check(CLI::IsMember({"f32", "bf16", "f16"}));
  c->add_flag("--allow-nonfinite", a->allow_nonfinite, "Accept NaN/Inf values (refused by default)");
  c->callback([a] { run_import(*a); });
}

}  // namespace sadanet::cli
