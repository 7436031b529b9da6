// io::DirWatcher: what it reports for changes in a watched directory. Each Wait below is
// given a minute; events already queued make it return at once, so a slow run is not a
// failure and a missing event is.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "io/dir_watcher.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::io {
namespace {

constexpr int kMinute = 60'000;

TEST_CASE("DirWatcher reports created, written and removed files per directory") {
  testing::TempDir tmp;
  std::filesystem::create_directory(tmp.Sub("a"));
  std::filesystem::create_directory(tmp.Sub("b"));
  auto watcher = DirWatcher::Create();
  REQUIRE_OK(watcher.status());
  auto a = (*watcher)->Watch(tmp.Sub("a"));
  auto b = (*watcher)->Watch(tmp.Sub("b"));
  REQUIRE_OK(a.status());
  REQUIRE_OK(b.status());
  CHECK(*a != *b);

  { std::ofstream(tmp.Sub("a/x.log")) << "x"; }  // created, then written
  auto changes = (*watcher)->Wait(kMinute);
  REQUIRE_OK(changes.status());
  REQUIRE(changes->changes.size() == 1);
  CHECK(changes->changes[0].watch == *a);
  CHECK(changes->changes[0].entries_changed);

  { std::ofstream(tmp.Sub("a/x.log"), std::ios::app) << "more"; }  // only written
  changes = (*watcher)->Wait(kMinute);
  REQUIRE_OK(changes.status());
  REQUIRE(changes->changes.size() == 1);
  CHECK(changes->changes[0].watch == *a);
  CHECK_FALSE(changes->changes[0].entries_changed);

  std::filesystem::rename(tmp.Sub("a/x.log"), tmp.Sub("b/x.log"));
  changes = (*watcher)->Wait(kMinute);
  REQUIRE_OK(changes.status());
  CHECK(changes->changes.size() == 2);  // one per directory
  for (const auto& c : changes->changes) CHECK(c.entries_changed);

  (*watcher)->Unwatch(*b);
  std::filesystem::remove(tmp.Sub("b/x.log"));
  { std::ofstream(tmp.Sub("a/y.log")) << "y"; }
  changes = (*watcher)->Wait(kMinute);
  REQUIRE_OK(changes.status());
  for (const auto& c : changes->changes) CHECK(c.watch != *b);
}

TEST_CASE("DirWatcher::Interrupt makes a Wait return with nothing, before or during it") {
  testing::TempDir tmp;
  auto watcher = DirWatcher::Create();
  REQUIRE_OK(watcher.status());
  REQUIRE_OK((*watcher)->Watch(tmp.path()).status());
  (*watcher)->Interrupt();
  auto changes = (*watcher)->Wait(kMinute);
  REQUIRE_OK(changes.status());
  CHECK(changes->changes.empty());
  CHECK_FALSE(changes->overflow);
  // A short timeout with nothing happening also returns nothing.
  changes = (*watcher)->Wait(1);
  REQUIRE_OK(changes.status());
  CHECK(changes->changes.empty());
}

TEST_CASE("DirWatcher::Watch of a missing directory fails naming it") {
  testing::TempDir tmp;
  auto watcher = DirWatcher::Create();
  REQUIRE_OK(watcher.status());
  auto w = (*watcher)->Watch(tmp.Sub("missing"));
  CHECK_STATUS_IS(w.status(), absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(w.status().message()), Catch::Contains(tmp.Sub("missing")));
}

}  // namespace
}  // namespace runnel::io
