// A run folder under attack or on a failing disk (issue "hostile files and failing disks"): one
// process per folder, no symbolic link followed, private folders, SIGTERM/SIGHUP handled like
// Ctrl-C, a log append that fails writes a checkpoint first, a loader that gives up does too,
// torn checkpoints passed over on resume, the thread count checked on resume, crash leftovers
// removed, time-based checkpoints.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "sadanet/io/files.h"
#include "sadanet/runtime.h"
#include "sadanet/train/run_dir.h"
#include "train_fixture.h"

using namespace sadanet;
using namespace sadanet::train;
using sadanet::test::TrainRun;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int count_lines(const std::string& path) {
  std::ifstream f(path);
  int n = 0;
  for (std::string line; std::getline(f, line);) n += !line.empty();
  return n;
}

// Stops the run after step `at` (0-based) of its stage.
TrainHooks stop_after(int64_t at) {
  TrainHooks h;
  h.on_step_end = [at](const std::string&, int64_t step) {
    if (step == at) request_stop();
  };
  return h;
}

}  // namespace

class RunHygiene : public TrainRun {};

TEST_F(RunHygiene, ASecondProcessOnTheFolderIsRefusedNamingTheHolder) {
  const std::string dir = run_ / "locked";
  create_run_dir(dir);
  // flock locks belong to an open file description: a second open in this process conflicts
  // exactly as another process would.
  RunDirLock holder(dir, "test");
  try {
    run_training(short_erm(1), quiet(dir));
    FAIL() << "expected the lock to refuse the run";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("in use by another sadanet process (pid " + std::to_string(::getpid()) + ")"), std::string::npos)
        << msg;
  }
  EXPECT_FALSE(fs::exists(dir + "/config.json"));  // nothing written
}

TEST_F(RunHygiene, ANewRunFolderIsPrivateAndTheLockIsReleasedAfterTheRun) {
  const std::string dir = run_ / "private";
  ASSERT_EQ(run_training(short_erm(1), quiet(dir)).status, TrainStatus::completed);
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  RunDirLock again(dir, "test");  // the run let go of it
  EXPECT_TRUE(again.held());
}

TEST_F(RunHygiene, PlantedSymbolicLinksAreRefusedAndTheirTargetsUntouched) {
  const std::string victim = run_ / "victim.txt";
  { std::ofstream(victim) << "precious\n"; }
  for (const char* name : {"metrics.jsonl", "test_metrics.json", "config.json"}) {
    const std::string dir = run_ / (std::string("links-") + name);
    create_run_dir(dir);
    fs::create_symlink(victim, dir + "/" + name);
    try {
      run_training(short_erm(1), quiet(dir));
      FAIL() << name << ": expected the link to be refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("is a symbolic link"), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(victim), "precious\n") << name;
  }
  // The writers refuse links by themselves too (what eval and protocol use).
  const std::string link = run_ / "link.jsonl";
  fs::create_symlink(victim, link);
  EXPECT_THROW(io::append_line(link, "x"), Error);
  io::write_file_atomic(link, "new\n");  // replaces the link, not its target
  EXPECT_FALSE(fs::is_symlink(link));
  EXPECT_EQ(slurp(link), "new\n");
  EXPECT_EQ(slurp(victim), "precious\n");
  // A symlinked run folder is refused as well.
  fs::create_directory_symlink(run_ / "links-config.json", run_ / "dirlink");
  EXPECT_THROW(run_training(short_erm(1), quiet(run_ / "dirlink")), Error);
}

TEST_F(RunHygiene, SigtermAndSighupCheckpointAndReportTheSignal) {
  for (int sig : {SIGTERM, SIGHUP}) {
    const std::string dir = run_ / ("sig" + std::to_string(sig));
    RunOptions o = quiet(dir);
    o.handle_signals = true;
    o.hooks.on_step_end = [sig](const std::string&, int64_t step) {
      if (step == 1) std::raise(sig);  // the handler only sets the flag
    };
    TrainResult r = run_training(short_erm(4), o);
    ASSERT_EQ(r.status, TrainStatus::interrupted) << r.message;
    EXPECT_EQ(r.signal, sig);
    EXPECT_EQ(load_checkpoint_file(checkpoint_path(dir)).meta("step"), "2");
  }
  // The handlers are gone after the run: the previous disposition is back.
  struct sigaction now {};
  ::sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);
}

TEST_F(RunHygiene, AFailedMetricsAppendWritesACheckpointThenStops) {
  const std::string dir = run_ / "metrics";
  int appends = 0;
  set_checkpoint_write_hook([&appends](const std::string& path) {
    if (path.find("metrics.jsonl") != std::string::npos && ++appends == 3) throw Error("No space left (simulated)");
  });
  TrainConfig c = short_erm(6);
  c.ckpt_every = 100;
  TrainResult r = run_training(c, quiet(dir));
  ASSERT_EQ(r.status, TrainStatus::failed) << r.message;
  EXPECT_NE(r.message.find("the metrics log could not be written"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("wrote a checkpoint after erm step 3"), std::string::npos) << r.message;
  EXPECT_EQ(load_checkpoint_file(checkpoint_path(dir)).meta("step"), "3");
  EXPECT_EQ(count_lines(dir + "/metrics.jsonl"), 2);  // no torn third line
  // And the run continues from there once the disk has room.
  set_checkpoint_write_hook({});
  RunOptions o = quiet(dir);
  o.resume = true;
  TrainResult r2 = run_training(c, o);
  ASSERT_EQ(r2.status, TrainStatus::completed) << r2.message;
  EXPECT_EQ(r2.steps_run, 3);
}

TEST_F(RunHygiene, ALoaderThatGivesUpMidRunWritesACheckpointFirst) {
  // A private copy of the data whose source images become unreadable after step 1.
  const std::string data = run_ / "data";
  fs::copy(data_->path(), data, fs::copy_options::recursive);
  TrainConfig c = short_erm(200);
  c.data = data;
  c.cache = false;
  c.ckpt_every = 1000;
  c.ckpt_minutes = 0;
  RunOptions o = quiet(run_ / "loader");
  o.hooks.on_step_end = [&data](const std::string&, int64_t step) {
    if (step != 1) return;
    for (auto& e : fs::recursive_directory_iterator(data))
      if (e.is_regular_file() && e.path().string().find("synthC") == std::string::npos)
        std::ofstream(e.path(), std::ios::trunc) << "not an image";
  };
  TrainResult r = run_training(c, o);
  ASSERT_EQ(r.status, TrainStatus::failed) << r.message;
  EXPECT_NE(r.message.find("the data loader stopped"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("wrote a checkpoint after erm step"), std::string::npos) << r.message;
  const int64_t step = std::stoll(load_checkpoint_file(checkpoint_path(run_ / "loader")).meta("step"));
  EXPECT_GE(step, 2);
  EXPECT_EQ(step, r.steps_run);
}

TEST_F(RunHygiene, ResumePassesOverATornOrCorruptLatestCheckpointSayingSo) {
  // Torn: cut in half (a crash of the file system under it). Corrupt: one byte flipped near the
  // end, in tensor data that only the checksum vouches for.
  for (const std::string damage : {"torn", "flipped"}) {
    const std::string dir = run_ / damage;
    TrainConfig c = short_erm(4);
    c.ckpt_every = 1;
    RunOptions o = quiet(dir);
    o.hooks = stop_after(2);  // checkpoints after steps 1, 2, 3: latest = 3, prev = 2
    ASSERT_EQ(run_training(c, o).status, TrainStatus::interrupted);
    const std::string latest = checkpoint_path(dir);
    if (damage == "torn") {
      fs::resize_file(latest, fs::file_size(latest) / 2);
    } else {
      std::fstream f(latest, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(-100, std::ios::end);
      char b = 0;
      f.read(&b, 1);
      b ^= 0x10;
      f.seekp(-100, std::ios::end);
      f.write(&b, 1);
    }
    EXPECT_THROW(load_checkpoint_file(latest), Error) << damage;
    o.hooks = {};
    o.resume = true;
    TrainResult r = run_training(c, o);
    ASSERT_EQ(r.status, TrainStatus::completed) << damage << ": " << r.message;
    EXPECT_EQ(r.steps_run, 2) << damage;  // from prev (step 2)
    ASSERT_FALSE(r.warnings.empty()) << damage;
    const std::string& w = r.warnings.front();
    EXPECT_NE(w.find("passed over unusable checkpoints"), std::string::npos) << w;
    EXPECT_NE(w.find("ckpt-prev.safetensors"), std::string::npos) << w;
    if (damage == "flipped") EXPECT_NE(w.find("checksum mismatch"), std::string::npos) << w;
  }
}

TEST_F(RunHygiene, ResumeWithAnotherThreadCountIsRefusedUnlessAllowed) {
  const int before = num_threads();
  const std::string dir = run_ / "threads";
  TrainConfig c = short_erm(3);
  c.threads = 2;
  RunOptions o = quiet(dir);
  o.hooks = stop_after(0);
  ASSERT_EQ(run_training(c, o).status, TrainStatus::interrupted);
  EXPECT_EQ(load_checkpoint_file(checkpoint_path(dir)).meta("compute_threads"), "2");
  o.hooks = {};
  o.resume = true;
  c.threads = 1;
  try {
    run_training(c, o);
    ADD_FAILURE() << "expected the thread count to be refused";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("compute threads: 2 then, 1 now"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--allow-nondeterministic-resume"), std::string::npos) << msg;
  }
  o.allow_nondeterministic_resume = true;
  TrainResult r = run_training(c, o);
  EXPECT_EQ(r.status, TrainStatus::completed) << r.message;
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("not be bit-identical"), std::string::npos);
  set_num_threads(before);
}

TEST_F(RunHygiene, CrashLeftoversAreRemovedAndAStepLogWithoutCheckpointIsCut) {
  const std::string dir = run_ / "leftovers";
  create_run_dir(dir);
  // What a process killed mid-save and before its first checkpoint leaves behind.
  for (const char* f : {"ckpt-next.safetensors.tmp.4242.0", "ckpt-prev.safetensors.tmp.4242", "config.json.tmp.7.3"})
    std::ofstream(dir + "/" + f) << "partial";
  std::ofstream(dir + "/keep.tmp.1") << "not ours";
  std::ofstream(dir + "/metrics.jsonl") << "{\"stage\":\"erm\",\"step\":1}\n{\"stage\":\"erm\",\"step\":2}\n";
  RunOptions o = quiet(dir);
  o.resume = true;
  TrainResult r = run_training(short_erm(2), o);
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message;
  EXPECT_FALSE(fs::exists(dir + "/ckpt-next.safetensors.tmp.4242.0"));
  EXPECT_FALSE(fs::exists(dir + "/ckpt-prev.safetensors.tmp.4242"));
  EXPECT_FALSE(fs::exists(dir + "/config.json.tmp.7.3"));
  EXPECT_TRUE(fs::exists(dir + "/keep.tmp.1"));
  EXPECT_EQ(r.warnings.size(), 3u);
  EXPECT_EQ(count_lines(dir + "/metrics.jsonl"), 2);  // steps 1 and 2 once, from this run
}

TEST_F(RunHygiene, CheckpointsAreAlsoWrittenByWallTime) {
  TrainConfig c = short_erm(3);
  c.ckpt_every = 1000;
  c.ckpt_minutes = 1e-9;  // due after every step
  int writes = 0;
  set_checkpoint_write_hook([&writes](const std::string& path) {
    if (path.find("ckpt-next") != std::string::npos) ++writes;
  });
  ASSERT_EQ(run_training(c, quiet(run_ / "timed")).status, TrainStatus::completed);
  EXPECT_EQ(writes, 3);
  c.ckpt_minutes = 0;  // off: only the stage end
  writes = 0;
  ASSERT_EQ(run_training(c, quiet(run_ / "untimed")).status, TrainStatus::completed);
  EXPECT_EQ(writes, 1);
}

TEST_F(RunHygiene, APathThatIsNotUtf8IsRefusedBeforeAnythingIsWritten) {
  TrainConfig c = short_erm(1);
  c.data = data_->path() + "/caf\xe9";
  try {
    run_training(c, quiet(run_ / "utf8"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not UTF-8 (0xe9 at offset"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(run_ / "utf8"));
  EXPECT_EQ(invalid_utf8_at("caf\xc3\xa9"), std::string::npos);
  EXPECT_EQ(invalid_utf8_at("a\xc3"), 1u);
  EXPECT_EQ(invalid_utf8_at("\xff"), 0u);
}

TEST_F(RunHygiene, TheProgressBarFitsAnEightyColumnTerminal) {
  TrainConfig c = tiny(Method::sada);  // stage 1 has three loss terms: the longest line
  c.steps1 = 3;
  c.steps2 = 1;
  c.swad.enabled = false;
  RunOptions o = quiet(run_ / "bar");
  o.progress_bar = 1;
  ASSERT_EQ(run_training(c, o).status, TrainStatus::completed);
  const std::string out = log_.str();
  int bars = 0;
  for (size_t at = out.find('\r'); at != std::string::npos; at = out.find('\r', at + 1)) {
    const size_t end = out.find_first_of("\r\n", at + 1);
    std::string line = out.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
    const size_t erase = line.find("\x1b[K");
    ASSERT_NE(erase, std::string::npos) << line;
    EXPECT_LE(erase, 79u) << line;
    ++bars;
  }
  EXPECT_GE(bars, 4);
}

namespace sadanet::test {
namespace {

// A completed run keeps its models and drops the training checkpoints (unless asked to keep
// them); it cannot then be resumed, and says what to do instead.
TEST_F(TrainRun, ACompletedRunRemovesItsCheckpointsUnlessKept) {
  TrainConfig c = short_erm(2);
  RunOptions o = quiet(run_ / "lean");
  o.keep_checkpoints = false;
  train::TrainResult r = train::run_training(c, o);
  ASSERT_EQ(r.status, train::TrainStatus::completed) << r.message;
  namespace fs = std::filesystem;
  for (const char* f : {"final.safetensors", "last.safetensors", "model.json", "model_card.md"})
    EXPECT_TRUE(fs::exists(run_ / ("lean/" + std::string(f)))) << f;
  for (const char* f : {"ckpt-latest.safetensors", "ckpt-prev.safetensors", "ckpt-next.safetensors"})
    EXPECT_FALSE(fs::exists(run_ / ("lean/" + std::string(f)))) << f;
  EXPECT_NE(log_.str().find("training checkpoint"), std::string::npos) << log_.str();
  o.resume = true;
  try {
    train::run_training(c, o);
    ADD_FAILURE() << "resumed a finished run without checkpoints";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to resume"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(run_ / "lean/final.safetensors"));

  RunOptions keep = quiet(run_ / "kept");
  keep.keep_checkpoints = true;
  ASSERT_EQ(train::run_training(c, keep).status, train::TrainStatus::completed);
  EXPECT_TRUE(fs::exists(run_ / "kept/ckpt-latest.safetensors"));
}

}  // namespace
}  // namespace sadanet::test
