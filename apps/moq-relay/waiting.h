#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/broadcast.h"
#include "coding/result.h"
#include "origins.h"

namespace moq::relay {
class Cluster;
}

namespace moq::relay {

// A viewer that arrives before the publisher (issue 11): instead of 404 at
// once, its session serves a waiting broadcast whose track requests (the
// SUBSCRIBEs, each answered SUBSCRIBE_OK as usual) are held until the name
// goes live on this relay, any worker, or (clustered) moq-api names another
// relay as its origin, and are then filled from it (through fill_track: the
// live cache's bytes, no copy; from another relay through the cluster's
// shared Upstream); or, when `wait` passed with no publisher, ended with
// 404. Every session of a worker waiting for one name shares one waiting
// broadcast, so their requests are deduplicated as for a live broadcast.
//
// Home thread (the worker's) only. The name is looked up in Origins every
// 100 ms and in moq-api every 500 ms: a few lookups a second per waited
// name, never per packet.
class WaitingBroadcast : public std::enable_shared_from_this<WaitingBroadcast> {
 public:
  static std::shared_ptr<WaitingBroadcast> create(
      asio::any_io_executor home, std::string name, std::shared_ptr<Origins> origins,
      std::shared_ptr<Cluster> cluster,
      std::shared_ptr<std::vector<asio::any_io_executor>> executors,
      std::chrono::milliseconds wait);
  ~WaitingBroadcast();
  WaitingBroadcast(const WaitingBroadcast&) = delete;
  WaitingBroadcast& operator=(const WaitingBroadcast&) = delete;

  // What the waiting sessions serve.
  const cache::BroadcastReader& broadcast() const { return reader_; }
  // A session starts / stops serving it (viewer counts for the index).
  void join();
  void leave();
  // Still waiting: neither served from a publisher yet nor given up. Only
  // then may a new viewer share it (a later one gets a wait of its own).
  bool waiting() const;

  struct State;

 private:
  WaitingBroadcast(std::string name, std::shared_ptr<Origins> origins,
                   std::shared_ptr<Cluster> cluster,
                   std::pair<cache::BroadcastWriter, cache::BroadcastReader> local);

  cache::BroadcastWriter writer_;
  cache::BroadcastReader reader_;
  std::shared_ptr<State> state_;  // shared with the waiting coroutine
};

// Whether moq-api names another relay as the origin of `name`, asked on
// worker 0 (the cluster's thread) from any worker. Errors: moq-api
// unreachable.
asio::awaitable<Result<bool>> origin_elsewhere(std::shared_ptr<Cluster> cluster,
                                               asio::any_io_executor worker0, std::string name);

// The waiting broadcasts of one worker, by name. Home thread only.
class WaitingRoom {
 public:
  explicit WaitingRoom(asio::any_io_executor home) : home_(std::move(home)) {}
  // The waiting broadcast for `name`, shared with the other sessions still
  // waiting for it, or a new one that waits up to `wait`.
  std::shared_ptr<WaitingBroadcast> get(
      const std::string& name, const std::shared_ptr<Origins>& origins,
      const std::shared_ptr<Cluster>& cluster,
      const std::shared_ptr<std::vector<asio::any_io_executor>>& executors,
      std::chrono::milliseconds wait);

 private:
  asio::any_io_executor home_;
  std::unordered_map<std::string, std::weak_ptr<WaitingBroadcast>> by_name_;
};

}  // namespace moq::relay
