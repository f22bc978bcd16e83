// The group window both moq-lite and IETF draft-14 sessions send through:
// a full window waits for a slot; a group the peer has not taken within the
// stall timeout gives way (dropped, counted), a fresh one does not.

#include "lite/group_window.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

namespace moq::lite {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<GroupWindow::Group> add_group(GroupWindow& w, uint64_t sequence,
                                              std::chrono::steady_clock::duration age) {
  auto g = std::make_shared<GroupWindow::Group>();
  g->sequence = sequence;
  g->started = std::chrono::steady_clock::now() - age;
  w.groups.push_back(g);
  return g;
}

struct Waited {
  bool done = false;
  bool room = false;
};

asio::awaitable<void> wait(std::shared_ptr<GroupWindow> w, WindowLimits limits,
                           session::TaskGroup* tasks, uint64_t* dropped,
                           std::shared_ptr<Waited> out) {
  out->room = co_await wait_for_slot(w, limits, *tasks, *dropped);
  out->done = true;
}

TEST(GroupWindow, AStalledGroupGivesWayToTheNewOne) {
  asio::io_context io;
  session::TaskGroup tasks(io.get_executor());
  auto w = std::make_shared<GroupWindow>();
  auto old = add_group(*w, 7, 5s);
  uint64_t dropped = 0;
  auto out = std::make_shared<Waited>();
  asio::co_spawn(io, wait(w, {1, 1000ms, 5}, &tasks, &dropped, out), asio::detached);
  io.run_for(200ms);
  ASSERT_TRUE(out->done);
  EXPECT_TRUE(out->room);
  EXPECT_EQ(dropped, 1u);
  EXPECT_TRUE(old->done);
  EXPECT_TRUE(w->groups.empty());
}

TEST(GroupWindow, AFullWindowWaitsForAGroupToFinish) {
  asio::io_context io;
  session::TaskGroup tasks(io.get_executor());
  auto w = std::make_shared<GroupWindow>();
  auto fresh = add_group(*w, 1, 0s);
  uint64_t dropped = 0;
  auto out = std::make_shared<Waited>();
  asio::co_spawn(io, wait(w, {1, 10'000ms, 5}, &tasks, &dropped, out), asio::detached);
  io.run_for(100ms);
  EXPECT_FALSE(out->done);  // not stalled yet: it waits
  EXPECT_EQ(w->find(1), fresh);
  w->finished(fresh);
  io.run_for(100ms);
  ASSERT_TRUE(out->done);
  EXPECT_TRUE(out->room);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(w->find(1), nullptr);
}

TEST(GroupWindow, AnEndedWindowHasNoRoom) {
  asio::io_context io;
  session::TaskGroup tasks(io.get_executor());
  auto w = std::make_shared<GroupWindow>();
  add_group(*w, 1, 0s);
  uint64_t dropped = 0;
  auto out = std::make_shared<Waited>();
  asio::co_spawn(io, wait(w, {1, 10'000ms, 5}, &tasks, &dropped, out), asio::detached);
  io.run_for(50ms);
  w->ended = true;
  w->changed.notify_all();
  io.run_for(100ms);
  ASSERT_TRUE(out->done);
  EXPECT_FALSE(out->room);
}

}  // namespace
}  // namespace moq::lite
