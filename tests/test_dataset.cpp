// Dataset scanning, the seeded path-keyed split, leave-one-domain-out lists, and unreadable images
// (on small folders of generated images in a scratch directory; never the real data).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "data_fixtures.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/error.h"

using namespace sadanet;
using namespace sadanet::data;
using sadanet::test::ScratchDir;

namespace {

// Expects `fn` to throw sadanet::Error with every one of `parts` in its message.
template <class Fn> void expect_error(Fn&& fn, std::vector<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a sadanet::Error mentioning " << parts[0];
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\n  lacks: " << p;
  }
}

bool has_warning(const Dataset& ds, const std::vector<std::string>& parts) {
  for (const auto& w : ds.warnings) {
    bool all = true;
    for (const auto& p : parts) all = all && w.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::string random_name(std::mt19937_64& rng) {
  static const char* a = "abcdefghijklmnopqrstuvwxyz0123456789_-";
  std::string s;
  int n = 3 + static_cast<int>(rng() % 14);
  for (int i = 0; i < n; ++i) s += a[rng() % 38];
  return s + (rng() % 2 ? ".jpg" : ".png");
}

// domain -> class -> number of images
void make_tree(const std::string& root, const std::map<std::string, std::map<std::string, int>>& spec, int tag0 = 0) {
  int tag = tag0;
  for (const auto& [d, classes] : spec)
    for (const auto& [c, n] : classes) {
      std::filesystem::create_directories(root + "/" + d + "/" + c);
      for (int i = 0; i < n; ++i)
        test::write_image(root + "/" + d + "/" + c + "/img" + std::to_string(i) + ".png", test::tagged_image(6, 5, tag++));
    }
}

}  // namespace

TEST(Dataset, ScanFindsDomainsClassesAndImagesInSortedOrder) {
  ScratchDir dir;
  // created out of order, with extensions in mixed case
  test::write_image(dir / "labB/neutrophil/z.PNG", test::tagged_image(4, 4, 1));
  test::write_image(dir / "labB/basophil/b.bmp", test::tagged_image(4, 4, 2));
  test::write_image(dir / "labA/monocyte/m2.Jpeg", test::tagged_image(4, 4, 3));
  test::write_image(dir / "labA/monocyte/m1.jpg", test::tagged_image(4, 4, 4));
  test::write_image(dir / "labA/Lymphocyte/l.png", test::tagged_image(4, 4, 5));
  test::write_file(dir / "README.md", "not a domain");
  test::write_file(dir / ".hidden/basophil/x.png", "ignored");

  Dataset ds = scan_dataset(dir.path());
  EXPECT_EQ(ds.domains, (std::vector<std::string>{"labA", "labB"}));
  EXPECT_EQ(ds.classes, default_classes());
  std::vector<std::string> rels;
  for (const auto& it : ds.items) rels.push_back(it.rel);
  EXPECT_EQ(rels, (std::vector<std::string>{"labA/Lymphocyte/l.png", "labA/monocyte/m1.jpg", "labA/monocyte/m2.Jpeg",
                                             "labB/basophil/b.bmp", "labB/neutrophil/z.PNG"}));
  EXPECT_EQ(ds.items[0].label, 2);
  EXPECT_EQ(ds.items[0].domain, 0);
  EXPECT_EQ(ds.items[3].label, 0);
  EXPECT_EQ(ds.items[3].domain, 1);
  EXPECT_EQ(ds.items[4].label, 4);
  EXPECT_EQ(ds.items[1].path, (std::filesystem::path(dir.path()) / "labA/monocyte/m1.jpg").string());
  auto counts = ds.counts();
  EXPECT_EQ(counts[0], (std::vector<int64_t>{0, 0, 1, 2, 0}));
  EXPECT_EQ(counts[1], (std::vector<int64_t>{1, 0, 0, 0, 1}));
  EXPECT_EQ(ds.domain_index("labB"), 1);
  EXPECT_NE(describe(ds).find("labA: 3 images"), std::string::npos) << describe(ds);
  // a class list of our own, in our order
  ScanOptions o;
  o.classes = {"neutrophil", "basophil"};
  Dataset two = scan_dataset(dir.path(), o);
  ASSERT_EQ(two.items.size(), 2u);  // labA has neither class folder... and is then not a domain
  EXPECT_EQ(two.domains, (std::vector<std::string>{"labB"}));
  // items follow the label order: neutrophil (label 0) first
  EXPECT_EQ(two.items[0].rel, "labB/neutrophil/z.PNG");
  EXPECT_EQ(two.items[0].label, 0);
  EXPECT_EQ(two.items[1].rel, "labB/basophil/b.bmp");
  EXPECT_EQ(two.items[1].label, 1);
  EXPECT_EQ(two.items[1].domain, 0);
}

TEST(Dataset, WarnsAboutStrayFoldersFilesAndEmptyClassesButNeverPrints) {
  ScratchDir dir;
  make_tree(dir.path(), {{"lab", {{"basophil", 2}, {"eosinophil", 1}, {"lymphocyte", 1}, {"monocyte", 1}}}});
  std::filesystem::create_directories(dir / "lab/neutrophil");       // empty class folder
  std::filesystem::create_directories(dir / "lab/band_cells/x");     // not a class
  std::filesystem::create_directories(dir / "lab/platelet");         // not a class
  test::write_file(dir / "lab/basophil/notes.txt", "hello");         // not an image
  std::filesystem::create_directories(dir / "splits");               // not a domain: no class folders
  test::write_file(dir / "splits/train.csv", "a,b");

  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  Dataset ds = scan_dataset(dir.path());
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(ds.domains, std::vector<std::string>{"lab"});
  EXPECT_EQ(ds.items.size(), 5u);
  EXPECT_TRUE(has_warning(ds, {"lab", "band_cells", "platelet"}));
  EXPECT_TRUE(has_warning(ds, {"neutrophil", "no images"}));
  EXPECT_TRUE(has_warning(ds, {"notes.txt"}));
  EXPECT_TRUE(has_warning(ds, {"splits"}));
  // a domain missing a class folder altogether
  ScratchDir d2;
  make_tree(d2.path(), {{"lab", {{"basophil", 1}}}});
  Dataset ds2 = scan_dataset(d2.path());
  EXPECT_TRUE(has_warning(ds2, {"lab", "no folder for class monocyte"}));
}

TEST(Dataset, ErrorsNameWhatIsWrong) {
  ScratchDir dir;
  expect_error([&] { scan_dataset(dir / "nope"); }, {"does not exist", "nope"});
  test::write_file(dir / "file", "x");
  expect_error([&] { scan_dataset(dir / "file"); }, {"not a folder"});
  ScratchDir empty;
  expect_error([&] { scan_dataset(empty.path()); }, {"no domains"});
  ScratchDir stray;
  std::filesystem::create_directories(stray / "cats/tabby");
  expect_error([&] { scan_dataset(stray.path()); }, {"no domains", "cats"});

  ScratchDir ok;
  make_tree(ok.path(), {{"alpha", {{"basophil", 2}}}, {"beta", {{"monocyte", 3}}}});
  std::filesystem::create_directories(ok / "gamma/basophil");  // a domain whose class folders are empty
  expect_error([&] { scan_dataset(ok.path()); }, {"gamma", "no images"});
  ScanOptions want;
  want.domains = {"alpha", "delta"};
  expect_error([&] { scan_dataset(ok.path(), want); }, {"delta", "absent", "alpha", "beta", "gamma"});
  want.domains = {"beta", "alpha"};
  Dataset ds = scan_dataset(ok.path(), want);
  EXPECT_EQ(ds.domains, (std::vector<std::string>{"alpha", "beta"}));
  expect_error([&] { make_lodo_split(ds, "zeta"); }, {"zeta", "alpha", "beta"});
  expect_error([&] { ds.domain_index("zeta"); }, {"zeta", "alpha, beta"});
  ScanOptions one;
  one.domains = {"alpha"};
  Dataset single = scan_dataset(ok.path(), one);
  expect_error([&] { make_lodo_split(single, "alpha"); }, {"at least two domains"});
  ScanOptions dup;
  dup.classes = {"basophil", "Basophil"};
  expect_error([&] { scan_dataset(ok.path(), dup); }, {"twice"});
}

TEST(Dataset, SplitIsAPureFunctionOfSeedAndRelativePath) {
  const uint64_t seed = test::fresh_seed("split names");
  std::mt19937_64 rng(seed);
  // over many random names: about 80/20, and about 10% of the train part is val
  int test_n = 0, val_n = 0, train_n = 0;
  const int N = 4000;
  SplitOptions o;
  o.seed = rng();
  for (int i = 0; i < N; ++i) {
    std::string rel = "dom" + std::to_string(rng() % 3) + "/neutrophil/" + random_name(rng);
    Part p = split_part(rel, o);
    EXPECT_EQ(p, split_part(rel, o));
    (p == Part::test ? test_n : p == Part::val ? val_n : train_n)++;
  }
  EXPECT_NEAR(test_n / double(N), 0.2, 0.035);
  EXPECT_NEAR(val_n / double(N - test_n), 0.1, 0.03);
  // the documented hash, written out
  const std::string rel = "labA/monocyte/x.png";
  const uint64_t h = fnv1a64(std::to_string(o.seed) + ":" + rel);
  const uint64_t hv = fnv1a64(std::to_string(o.seed) + ":val:" + rel);
  const Part want = h % 1000 >= 800 ? Part::test : hv % 1000 < 100 ? Part::val : Part::train;
  EXPECT_EQ(split_part(rel, o), want);
  EXPECT_EQ(fnv1a64(""), 14695981039346656037ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);  // the published FNV-1a 64 test vector
  EXPECT_EQ(hex64(0xaf63dc4c8601ec8cull), "af63dc4c8601ec8c");
  // val_permille 0: no val part; train_permille 1000: no test part
  SplitOptions all_train;
  all_train.val_permille = 0;
  all_train.train_permille = 1000;
  EXPECT_EQ(split_part(rel, all_train), Part::train);
}

TEST(Dataset, SplitDoesNotDependOnFileOrderOrOtherFiles) {
  const uint64_t seed = test::fresh_seed("split tree");
  std::mt19937_64 rng(seed);
  std::vector<std::string> rels;
  for (int i = 0; i < 60; ++i)
    rels.push_back(std::string(i % 2 ? "labA" : "labB") + "/" + default_classes()[rng() % 5] + "/" + random_name(rng));
  std::sort(rels.begin(), rels.end());
  rels.erase(std::unique(rels.begin(), rels.end()), rels.end());
  ScratchDir a, b;
  for (const auto& r : rels) test::write_image(a / r, test::tagged_image(3, 3, 0));
  std::vector<std::string> shuffled = rels;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const auto& r : shuffled) test::write_image(b / r, test::tagged_image(3, 3, 0));
  test::write_image(b / "labA/basophil/extra_file.png", test::tagged_image(3, 3, 0));

  SplitOptions o;
  o.seed = rng() % 1000;
  Dataset da = scan_dataset(a.path()), db = scan_dataset(b.path());
  std::map<std::string, Part> pa, pb;
  for (const auto& it : da.items) pa[it.rel] = split_part(it.rel, o);
  for (const auto& it : db.items) pb[it.rel] = split_part(it.rel, o);
  for (const auto& [rel, p] : pa) EXPECT_EQ(pb.at(rel), p) << rel;
  // the digest: stable across calls and scans, sensitive to the files, the seed and the fractions
  EXPECT_EQ(split_hash(da, o), split_hash(da, o));
  EXPECT_EQ(split_hash(da, o), split_hash(scan_dataset(a.path()), o));
  EXPECT_NE(split_hash(da, o), split_hash(db, o));
  SplitOptions o2 = o;
  o2.seed += 1;
  EXPECT_NE(split_hash(da, o), split_hash(da, o2));
  SplitOptions o3 = o;
  o3.val_permille = 150;
  EXPECT_NE(split_hash(da, o), split_hash(da, o3));
  // another seed moves some files
  int moved = 0;
  for (const auto& it : da.items) moved += split_part(it.rel, o) != split_part(it.rel, o2);
  EXPECT_GT(moved, 0);
}

TEST(Dataset, LeaveOneDomainOutPartitionsTheItems) {
  ScratchDir dir;
  make_tree(dir.path(), {{"a", {{"basophil", 12}, {"monocyte", 15}}},
                         {"b", {{"eosinophil", 20}, {"neutrophil", 9}}},
                         {"c", {{"lymphocyte", 25}, {"monocyte", 5}}}});
  Dataset ds = scan_dataset(dir.path());
  SplitOptions o;
  o.seed = 7;
  LodoSplit s = make_lodo_split(ds, "b", o);
  EXPECT_EQ(s.target, "b");
  EXPECT_EQ(s.target_domain, 1);
  EXPECT_EQ(s.source_domains, (std::vector<int>{0, 2}));
  std::set<std::string> seen;
  size_t n = 0;
  for (const auto* part : {&s.source_train, &s.source_val, &s.source_test, &s.target_test})
    for (const auto& it : *part) {
      seen.insert(it.rel);
      ++n;
    }
  EXPECT_EQ(seen.size(), n) << "an item is in two parts";
  for (const auto& it : s.source_train) {
    EXPECT_NE(it.domain, 1);
    EXPECT_EQ(split_part(it.rel, o), Part::train);
  }
  for (const auto& it : s.source_val) EXPECT_EQ(split_part(it.rel, o), Part::val);
  for (const auto& it : s.source_test) EXPECT_EQ(split_part(it.rel, o), Part::test);
  for (const auto& it : s.target_test) {
    EXPECT_EQ(it.domain, 1);
    EXPECT_EQ(split_part(it.rel, o), Part::test);
  }
  // the target's train part is used by nobody
  size_t target_total = 0;
  for (const auto& it : ds.items) target_total += it.domain == 1;
  EXPECT_LT(s.target_test.size(), target_total);
  EXPECT_EQ(n + (target_total - s.target_test.size()), ds.items.size());

  LodoSplit all = make_lodo_split(ds, "b", o, TargetEval::all);
  EXPECT_EQ(all.target_test.size(), target_total);
  EXPECT_EQ(all.source_train.size(), s.source_train.size());
  EXPECT_NE(all.split_hash, s.split_hash);
  EXPECT_EQ(make_lodo_split(ds, "b", o).split_hash, s.split_hash);
  EXPECT_NE(make_lodo_split(ds, "a", o).split_hash, s.split_hash);
  EXPECT_EQ(target_eval_from_name("all"), TargetEval::all);
  EXPECT_THROW(target_eval_from_name("everything"), Error);
  EXPECT_NE(describe_counts(s.source_train, ds.classes).find("basophil"), std::string::npos);
}

TEST(Dataset, CorruptImagesAreSkippedAndCountedUpToTheAllowedFraction) {
  ScratchDir dir;
  make_tree(dir.path(), {{"a", {{"basophil", 20}}}, {"b", {{"monocyte", 20}}}});
  test::write_file(dir / "a/basophil/broken.png", "\x89PNG\r\n\x1a\n truncated");
  test::write_file(dir / "b/monocyte/empty.jpg", "");
  Dataset ds = scan_dataset(dir.path());
  ASSERT_EQ(ds.items.size(), 42u);
  LoaderOptions lo;
  lo.batch = 4;
  lo.size = 8;
  lo.mode = LoaderMode::eval;
  lo.max_bad_fraction = 0.05;  // 2 of 42 = 4.8%: allowed
  {
    BatchLoader loader(ds.items, lo);
    EXPECT_EQ(loader.bad_count(), 2);
    auto bad = loader.bad_paths();
    ASSERT_EQ(bad.size(), 2u);
    EXPECT_NE(bad[0].find("broken.png"), std::string::npos);
    EXPECT_NE(bad[1].find("empty.jpg"), std::string::npos);
    EXPECT_EQ(loader.items().size(), 40u);
    int64_t seen = 0;
    while (auto b = loader.next()) seen += b->labels.numel();
    EXPECT_EQ(seen, 40);
  }
  // one more bad file: 3 of 43 = 7% > 5%: the loader refuses, naming the count and the files
  test::write_file(dir / "b/monocyte/zz_garbage.bmp", "BM not really");
  Dataset ds3 = scan_dataset(dir.path());
  expect_error([&] { BatchLoader l(ds3.items, lo); }, {"3 of 43", "broken.png", "zz_garbage.bmp", "max_bad_fraction"});
  lo.max_bad_fraction = 0.1;
  EXPECT_NO_THROW(BatchLoader(ds3.items, lo));
}

// A lab's own classes: its order is the label order, and a class map reads several folders as one.
TEST(DatasetClasses, ClassMapMergesFoldersInLabelOrderAndSaysWhatIsWrong) {
  ScratchDir dir;
  make_tree(dir.path(), {{"lab", {{"Band Neutrophil", 2}, {"seg", 3}, {"erythroblast", 1}, {"blast", 4}}}});
  {
    std::ofstream m(dir / "map.txt");
    m << "# our classes\n\nerythroblast   # nucleated red cells\nneutrophil: band neutrophil, SEG\n";
  }
  data::ClassList l = data::read_class_map(dir / "map.txt");
  EXPECT_EQ(l.classes, (std::vector<std::string>{"erythroblast", "neutrophil"}));
  data::ScanOptions so;
  so.classes = l.classes;
  so.folder_classes = l.folder_classes;
  data::Dataset ds = data::scan_dataset(dir.path(), so);
  EXPECT_EQ(ds.classes, l.classes);
  ASSERT_EQ(ds.counts().size(), 1u);
  EXPECT_EQ(ds.counts()[0], (std::vector<int64_t>{1, 5}));  // band 2 + seg 3 are neutrophils
  bool warned_blast = false;
  for (const auto& w : ds.warnings) warned_blast |= w.find("blast") != std::string::npos && w.find("not classes") != std::string::npos;
  EXPECT_TRUE(warned_blast);

  EXPECT_EQ(data::parse_class_list(" a, b ,c").classes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THROW(data::parse_class_list("a"), Error);
  EXPECT_THROW(data::parse_class_list("a,,b"), Error);
  EXPECT_THROW(data::parse_class_list("a,A"), Error);
  EXPECT_THROW(data::parse_class_list("a,../b"), Error);
  auto map_error = [&](const std::string& text) {
    std::ofstream(dir / "bad.txt") << text;
    try {
      data::read_class_map(dir / "bad.txt");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(map_error("a\nb: x\nc: x\n").find("bad.txt:3: folder 'x' is mapped twice"), std::string::npos);
  EXPECT_NE(map_error("a\n\nA\n").find("bad.txt:3: class 'A' is listed twice"), std::string::npos);
  EXPECT_NE(map_error("# nothing\n").find("at least 2 classes"), std::string::npos);
  data::ScanOptions bad;
  bad.classes = {"a", "b"};
  bad.folder_classes = {{"x", "c"}};
  EXPECT_THROW(data::scan_dataset(dir.path(), bad), Error);
}

