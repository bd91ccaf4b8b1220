#include "lambda/bundle_manifest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aws/hash.h"
#include "lambda/workflow_bundle.h"
#include "validate/workflow_schema.h"

namespace cairn::lambda {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kBuild[] = "cairn 1.2.3";

// Valid in every way.
constexpr char kGood[] = "cairn: 1\nname: good\nsteps:\n  - name: pause\n    wait: 1s\n";
// Only the schema pass objects to it: an unknown top-level key (CRN012).
constexpr char kSchemaOnly[] =
    "cairn: 1\nname: good\nbogus: 1\nsteps:\n  - name: pause\n    wait: 1s\n";
// The same, plus a `next:` to no step, which the flow check reports.
constexpr char kSchemaAndFlow[] =
    "cairn: 1\nname: both\nbogus: 1\nsteps:\n  - name: pause\n    wait: 1s\n    next: nowhere\n";

class BundleManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cairn-manifest-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << text;
  }

  // A manifest as WriteBundleManifest writes it, listing `files` whatever
  // they hold.
  void Forge(const std::map<std::string, std::string>& files, const std::string& build = kBuild) {
    json listed = json::object();
    for (const auto& [name, text] : files) listed[name] = aws::Sha256Hex(text);
    Write(kManifestFileName, json{{"validator", ValidatorId(build)}, {"files", listed}}.dump());
  }

  Result<std::shared_ptr<engine::Engine>> Find(const std::string& name) {
    WorkflowBundleOptions o;
    o.dir = dir_.string();
    o.lookup_env = [](const char*) -> const char* { return nullptr; };
    o.build = kBuild;
    bundle_ = std::make_unique<WorkflowBundle>(std::move(o));
    if (Status s = bundle_->Init(); !s.ok()) return s.error();
    return bundle_->Find(name);
  }

  fs::path dir_;
  std::unique_ptr<WorkflowBundle> bundle_;
};

TEST(ValidatorIdTest, NamesTheBuildAndTheEmbeddedSchemasDigest) {
  EXPECT_EQ(WorkflowSchemaDigest(), aws::Sha256Hex(WorkflowSchemaText()));
  EXPECT_EQ(ValidatorId("cairn 1.2.3"),
            "cairn 1.2.3; schema sha256:" + std::string(WorkflowSchemaDigest()));
}

TEST_F(BundleManifestTest, ListsTheWorkflowsThatValidateWithTheirDigests) {
  Write("good.yaml", kGood);
  Write("bad.yml", kSchemaOnly);
  Write("notes.txt", "not a workflow");
  auto report = WriteBundleManifest(dir_.string(), kBuild);
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->listed, std::vector<std::string>{"good.yaml"});
  EXPECT_EQ(report->invalid, std::vector<std::string>{"bad.yml"});

  std::string note;
  BundleManifest manifest = BundleManifest::Read(dir_.string(), kBuild, &note);
  EXPECT_EQ(note, "");
  EXPECT_EQ(manifest.size(), 1u);
  EXPECT_TRUE(manifest.Vouches("good.yaml", kGood));
  EXPECT_FALSE(manifest.Vouches("good.yaml", std::string(kGood) + "# edited\n"));
  EXPECT_FALSE(manifest.Vouches("other.yaml", kGood));
  EXPECT_FALSE(manifest.Vouches("bad.yml", kSchemaOnly));
}

TEST_F(BundleManifestTest, AManifestOfAnotherBuildOrMalformedIsNotUsed) {
  Write("good.yaml", kGood);
  ASSERT_TRUE(WriteBundleManifest(dir_.string(), "cairn 0.0.1").ok());
  std::string note;
  EXPECT_EQ(BundleManifest::Read(dir_.string(), kBuild, &note).size(), 0u);
  EXPECT_NE(note.find("written by cairn 0.0.1"), std::string::npos) << note;

  for (const char* text :
       {"{", "[]", R"({"validator": 1, "files": {}})", R"({"validator": "x", "files": []})"}) {
    Write(kManifestFileName, text);
    note.clear();
    EXPECT_EQ(BundleManifest::Read(dir_.string(), kBuild, &note).size(), 0u) << text;
    EXPECT_NE(note, "") << text;
  }

  fs::remove(dir_ / kManifestFileName);
  note.clear();
  EXPECT_EQ(BundleManifest::Read(dir_.string(), kBuild, &note).size(), 0u);
  EXPECT_EQ(note, "");  // no manifest is not a problem
}

TEST_F(BundleManifestTest, AWorkflowEditedAfterPackagingGetsTheFullValidation) {
  Write("good.yaml", kGood);
  ASSERT_TRUE(WriteBundleManifest(dir_.string(), kBuild).ok());
  ASSERT_TRUE(Find("good").ok());

  Write("good.yaml", kSchemaOnly);
  auto engine = Find("good");
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.error().code, kInvalidWorkflow);
  EXPECT_NE(engine.error().message.find("CRN012"), std::string::npos) << engine.error().message;
}

TEST_F(BundleManifestTest, AnUnlistedWorkflowGetsTheFullValidation) {
  Write("good.yaml", kGood);
  ASSERT_TRUE(WriteBundleManifest(dir_.string(), kBuild).ok());
  Write("late.yaml", kSchemaOnly);
  auto engine = Find("late");
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message.find("CRN012"), std::string::npos) << engine.error().message;
}

TEST_F(BundleManifestTest, AVouchedWorkflowSkipsTheSchemaPassOnly) {
  // A hand-made manifest vouching for files that fail the schema pass shows
  // what is skipped: that pass, and nothing else.
  Write("schema-only.yaml", kSchemaOnly);
  Write("both.yaml", kSchemaAndFlow);
  Forge({{"schema-only.yaml", kSchemaOnly}, {"both.yaml", kSchemaAndFlow}});
  EXPECT_TRUE(Find("schema-only").ok());

  auto engine = Find("both");
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.error().code, kInvalidWorkflow);
  EXPECT_NE(engine.error().message.find("nowhere"), std::string::npos) << engine.error().message;
  EXPECT_EQ(engine.error().message.find("CRN012"), std::string::npos) << engine.error().message;

  // The same manifest for another build: the schema pass runs again.
  Forge({{"schema-only.yaml", kSchemaOnly}}, "cairn 0.0.1");
  EXPECT_FALSE(Find("schema-only").ok());
}

TEST_F(BundleManifestTest, WritingNeedsAFolderWithWorkflows) {
  EXPECT_FALSE(WriteBundleManifest((dir_ / "missing").string(), kBuild).ok());
  EXPECT_FALSE(WriteBundleManifest(dir_.string(), kBuild).ok());  // empty
}

}  // namespace
}  // namespace cairn::lambda
