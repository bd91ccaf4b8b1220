#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <sstream>

namespace cairn::aws {
namespace {

TEST(CredentialsTest, StreamingRedactsSecretAndToken) {
  Credentials credentials("AKIDEXAMPLE", "TopSecretKeyMaterial", "SessionTokenValue");
  std::ostringstream out;
  out << credentials;
  EXPECT_EQ(out.str(),
            "Credentials{access_key_id=AKIDEXAMPLE, secret_access_key=<redacted>, "
            "session_token=<redacted>}");
  EXPECT_EQ(out.str().find("TopSecret"), std::string::npos);
  EXPECT_EQ(out.str().find("SessionToken"), std::string::npos);
}

TEST(CredentialsTest, StreamingSaysWhenThereIsNoToken) {
  std::ostringstream out;
  out << Credentials("AKID", "secret");
  EXPECT_NE(out.str().find("session_token=<none>"), std::string::npos);
}

TEST(CredentialsTest, ExposesTokenAndKeyId) {
  Credentials with_token("AKID", "secret", "token");
  EXPECT_EQ(with_token.access_key_id(), "AKID");
  EXPECT_TRUE(with_token.has_session_token());
  EXPECT_EQ(with_token.session_token(), "token");
  EXPECT_FALSE(Credentials("AKID", "secret").has_session_token());
}

}  // namespace
}  // namespace cairn::aws
