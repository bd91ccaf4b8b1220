#include "cli/engine_locator.h"

#include <gtest/gtest.h>

namespace cairn::cli {
namespace {

TEST(CliEngineLocatorTest, BesideTheFrontEndThenInLibexec) {
  EXPECT_EQ(EngineCandidates("/opt/cairn/bin"),
            (std::vector<std::string>{"/opt/cairn/bin/cairn-engine",
                                      "/opt/cairn/libexec/cairn/cairn-engine"}));
}

TEST(CliEngineLocatorTest, FrontEndAtTheRoot) {
  EXPECT_EQ(EngineCandidates("/"),
            (std::vector<std::string>{"/cairn-engine", "/libexec/cairn/cairn-engine"}));
}

}  // namespace
}  // namespace cairn::cli
