// Model and checkpoint files whose metadata was doctored (and re-checksummed, as a deliberate
// forger would): sizes, counts and numbers out of bounds are refused on loading, naming the key;
// `eval` refuses a file's image size over 1024 unless the caller gives one; a flipped byte in a
// real model file is refused as corrupt.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "data_fixtures.h"
#include "sadanet/io/safetensors.h"
#include "sadanet/parse_number.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/trainer.h"
#include "train_fixture.h"

using namespace sadanet;
using namespace sadanet::train;

namespace {

// One tiny trained model (ERM, resnet-tiny, 2 steps on TrainRun's 32 x 32 synthetic images) for
// the suite.
class ModelFileLimits : public test::TrainRun {
 protected:
  static void SetUpTestSuite() {
    TrainRun::SetUpTestSuite();
    dir_ = new test::ScratchDir();
    TrainConfig c = short_erm(2);
    std::ostringstream log;
    RunOptions r;
    r.out = *dir_ / "run";
    r.log = &log;
    r.progress_bar = 0;
    r.handle_signals = false;
    TrainResult res = run_training(c, r);
    ASSERT_EQ(res.status, TrainStatus::completed) << res.message << log.str();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
    TrainRun::TearDownTestSuite();
  }
  static std::string model() { return *dir_ / "run/final.safetensors"; }
  static std::string data() { return data_->path(); }

  // A copy of the model with metadata `key` changed by `edit`, written by sadanet's own writer.
  static std::string doctored(const std::string& key, const std::function<void(std::string&)>& edit) {
    io::TensorFile f = io::read_safetensors(model());
    edit(f.metadata.at(key));
    const std::string out = *dir_ / ("doctored-" + key + ".safetensors");
    io::write_safetensors(out, f.tensors, f.metadata);
    return out;
  }
  static std::string with_config(const std::string& field, const nlohmann::json& value) {
    return doctored("config", [&](std::string& text) {
      auto j = nlohmann::json::parse(text);
      if (field.rfind("swad.", 0) == 0)
        j["swad"][field.substr(5)] = value;
      else
        j[field] = value;
      text = j.dump();
    });
  }
  static std::string load_error(const std::string& path) {
    try {
      load_checkpoint_file(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  static test::ScratchDir* dir_;
};
test::ScratchDir* ModelFileLimits::dir_ = nullptr;

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

TEST_F(ModelFileLimits, TheTrainedFileLoadsVerified) {
  LoadedFile f = load_checkpoint_file(model());
  EXPECT_TRUE(f.file.verified);
  EXPECT_EQ(f.config.size, 32);
}

TEST_F(ModelFileLimits, OutOfBoundsConfigNumbersAreRefusedNamingTheKey) {
  const std::pair<const char*, int64_t> cases[] = {
      {"size", 5000},          {"la_hidden", 1'000'000'000}, {"proj_dim", 100000},  {"steps1", 1'000'000'000'000},
      {"steps2", -3},          {"batch", 100000},            {"k", 1000},           {"swad.bn_steps", 1'000'000'000},
      {"swad.n_converge", 0},  {"eval_batch", 1 << 20},      {"loader_threads", 5000}};
  for (const auto& [key, value] : cases) {
    std::string msg = load_error(with_config(key, value));
    EXPECT_HAS(msg, "metadata 'config'");
    EXPECT_HAS(msg, std::string(key) + " in ");
    EXPECT_HAS(msg, "got " + std::to_string(value));
  }
  EXPECT_HAS(load_error(with_config("lr", nlohmann::json::parse("1e300"))), "lr");
  EXPECT_HAS(load_error(with_config("size", "big")), "key 'size' has the wrong type");
}

TEST_F(ModelFileLimits, ClassCountAndSplitHashAreChecked) {
  std::string many = doctored("classes", [](std::string& text) {
    std::vector<std::string> names;
    for (int i = 0; i < 20000; ++i) names.push_back("c" + std::to_string(i));
    text = nlohmann::json(names).dump();
  });
  EXPECT_HAS(load_error(many), "expected 2..10000 class names, got 20000");
  EXPECT_HAS(load_error(doctored("classes", [](std::string& t) { t = R"(["only"])"; })), "got 1");
  std::string msg = load_error(doctored("split_hash", [](std::string& h) { h = "zzzzzzzzzzzzzzzz"; }));
  EXPECT_HAS(msg, "metadata 'split_hash': expected a hexadecimal number, got 'zzzzzzzzzzzzzzzz'");
  EXPECT_EQ(msg.find("stoull"), std::string::npos) << msg;
  EXPECT_HAS(load_error(doctored("split_hash", [](std::string& h) { h = "-000000000000001"; })),
             "expected a hexadecimal number");
}

TEST_F(ModelFileLimits, EvalCapsTheFilesImageSizeUnlessGivenOne) {
  const std::string big = with_config("size", 4096);
  try {
    evaluate_model_file(big, data(), "synthC");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_HAS(std::string(e.what()), "image size 4096 is over 1024");
    EXPECT_HAS(std::string(e.what()), "--size");
  }
  // Given the size it was trained at, the doctored file evaluates as the original does.
  EvalReport a = evaluate_model_file(model(), data(), "synthC", "all", 8);
  EvalReport b = evaluate_model_file(big, data(), "synthC", "all", 8, "", 2, data::kDefaultMaxPixels, 32);
  EXPECT_GT(a.images, 0);
  EXPECT_EQ(a.predictions.predicted, b.predictions.predicted);
  EXPECT_THROW(evaluate_model_file(model(), data(), "synthC", "all", 8, "", 2, data::kDefaultMaxPixels, 8), Error);  // below 32
}

TEST_F(ModelFileLimits, AFlippedByteInTheModelIsRefusedAsCorrupt) {
  std::string bytes = test::read_file(model());
  bytes[bytes.size() - 5] ^= 0x20;
  const std::string path = *dir_ / "flipped.safetensors";
  test::write_file(path, bytes);
  std::string msg = load_error(path);
  EXPECT_HAS(msg, "checksum mismatch");
  EXPECT_HAS(msg, path);
}

TEST(ParseNumber, WholeTextInRangeOrANamedError) {
  EXPECT_EQ(parse_u64("18446744073709551615", "n"), UINT64_MAX);
  EXPECT_EQ(parse_u64("00ff", "n", 16), 255u);
  EXPECT_EQ(parse_i64("-12", "n", -20, 0), -12);
  auto error = [](auto f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1x", "0x10", "18446744073709551616"})
    EXPECT_HAS(error([&] { parse_u64(bad, "metadata 'step'"); }), "metadata 'step': expected a non-negative");
  EXPECT_HAS(error([] { parse_i64("101", "metadata 'step'", 0, 100); }), "metadata 'step': expected a decimal integer in 0..100, got '101'");
  EXPECT_HAS(error([] { parse_u64("g", "hash", 16); }), "hash: expected a hexadecimal number, got 'g'");
  EXPECT_HAS(error([] { parse_u64(std::string(1000, 'x'), "k"); }), "xxx...'");
}

}  // namespace
