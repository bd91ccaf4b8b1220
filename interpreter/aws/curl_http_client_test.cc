// What is particular to CurlHttpClient: libcurl is loaded by the first Send,
// not linked, and a missing libcurl is a clear error. The HttpClient contract
// itself is checked for every implementation in http_client_contract_test.cc.
#include "aws/curl_http_client.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "aws/test_servers.h"

namespace cairn::aws {
namespace {

bool CurlIsLoaded() {
  void* handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

// In a fresh process (the death test re-runs this binary for this test only),
// nothing has loaded libcurl: constructing clients must not, the first Send
// must. Exit codes tell which step went wrong.
void LazyLoadingInAFreshProcess() {
  if (CurlIsLoaded()) std::_Exit(10);  // the test binary itself links libcurl
  std::shared_ptr<CurlHttpClient> client =
      MakeCurlHttpClient([](std::string_view) { return std::nullopt; });
  CurlHttpClient second;
  if (CurlIsLoaded()) std::_Exit(11);  // constructing loaded it
  HttpRequest request{.method = "GET", .path = "/", .headers = {{"Host", "127.0.0.1"}}};
  Result<HttpResponse> response = client->Send(
      "http://127.0.0.1:" + std::to_string(testing::UnusedPort()), request, HttpCallOptions{});
  if (response.ok() || response.error().code != "http.connect") std::_Exit(12);
  if (!CurlIsLoaded()) std::_Exit(13);  // sent without loading it?
  std::_Exit(0);
}

TEST(CurlHttpClientLoadingTest, LibcurlIsLoadedByTheFirstSendOnly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(LazyLoadingInAFreshProcess(), ::testing::ExitedWithCode(0), "")
      << "exit 10: libcurl linked into the test; 11: loaded by a constructor; 12: the Send did "
         "not fail with http.connect; 13: not loaded by the Send";
}

TEST(CurlHttpClientLoadingTest, AMissingLibraryIsAClearTransportError) {
  Result<const internal::CurlApi*> api = internal::LoadCurlLibrary("libcairn-no-such-curl.so.4");
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.error().code, "http.transport");
  EXPECT_NE(api.error().message.find("libcairn-no-such-curl.so.4"), std::string::npos)
      << api.error().message;
  // dlerror()'s reason is part of the message.
  EXPECT_NE(api.error().message.find("cannot open shared object file"), std::string::npos)
      << api.error().message;
}

TEST(CurlHttpClientLoadingTest, TheInstalledLibcurlLoads) {
  const Result<const internal::CurlApi*>& api = internal::ProcessCurl();
  ASSERT_TRUE(api.ok()) << api.error().ToString()
                        << " (install libcurl4: apt-get install libcurl4)";
}

}  // namespace
}  // namespace cairn::aws
