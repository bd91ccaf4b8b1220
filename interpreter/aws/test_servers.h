// Local servers for the aws/ tests: a cpp-httplib server on 127.0.0.1 with
// a free port, and a TCP server that resets every connection. Test-only.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace cairn::aws::testing {

// A cpp-httplib server bound to 127.0.0.1 on a port the system picks.
// Register handlers on server() before Start().
class LocalHttpServer {
 public:
  LocalHttpServer() = default;
  ~LocalHttpServer() { Stop(); }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  httplib::Server& server() { return server_; }
  // Binds and starts serving; returns false when binding failed.
  bool Start();
  void Stop();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Handlers that stall call WaitForRelease; Stop releases them.
  void WaitForRelease(int max_seconds);
  void Release();

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

// Accepts connections on 127.0.0.1 and resets each one (RST, via SO_LINGER
// 0) after reading the request's first bytes.
class ResettingServer {
 public:
  ResettingServer();
  ~ResettingServer();
  ResettingServer(const ResettingServer&) = delete;
  ResettingServer& operator=(const ResettingServer&) = delete;
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// A 127.0.0.1 port on which nothing listens (bound once, then closed).
int UnusedPort();

}  // namespace cairn::aws::testing
