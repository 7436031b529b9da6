#include "support/fault_env.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "io/env.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::testing {
namespace {

using io::File;
using io::MappedRegion;
using io::OpenMode;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string Str(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

std::unique_ptr<File> MustOpen(io::Env* env, const std::string& path, OpenMode mode) {
  absl::StatusOr<std::unique_ptr<File>> f = env->OpenFile(path, mode);
  REQUIRE_OK(f);
  return *std::move(f);
}

// What is really on disk, read past the FaultEnv.
std::string OnDisk(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> contents = io::ReadFile(io::PosixEnv(), path);
  REQUIRE_OK(contents);
  return Str(*contents);
}

void PutDurably(const std::string& path, std::string_view contents) {
  REQUIRE_OK(io::WriteFileAtomically(io::PosixEnv(), path, Bytes(contents)));
}

TEST_CASE("FaultEnv counts operations by kind", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  auto f = MustOpen(&env, dir.Sub("a"), OpenMode::kCreate);
  REQUIRE_OK(f->Write(0, Bytes("x")));
  REQUIRE_OK(f->Write(1, Bytes("y")));
  REQUIRE_OK(f->Sync());
  REQUIRE_OK(f->Truncate(4096));
  REQUIRE_OK(f->Allocate(8192));
  absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(8192, true);
  REQUIRE_OK(region);
  REQUIRE_OK((*region)->Sync(0, 10));
  REQUIRE_OK(env.Rename(dir.Sub("a"), dir.Sub("b")));
  REQUIRE_OK(env.SyncDir(dir.path()));
  REQUIRE_OK(env.RemoveFile(dir.Sub("b")));
  std::vector<uint8_t> buf(2);
  REQUIRE_OK(f->Read(0, buf));  // reads are not counted

  CHECK(env.count(FaultOp::kOpen) == 1);
  CHECK(env.count(FaultOp::kWrite) == 2);
  CHECK(env.count(FaultOp::kSync) == 2);
  CHECK(env.count(FaultOp::kTruncate) == 2);
  CHECK(env.count(FaultOp::kMap) == 1);
  CHECK(env.count(FaultOp::kRename) == 1);
  CHECK(env.count(FaultOp::kSyncDir) == 1);
  CHECK(env.count(FaultOp::kRemove) == 1);
  CHECK(env.count(FaultOp::kAny) == 11);
}

TEST_CASE("FaultEnv error helpers look like ErrnoStatus", "[fault_env]") {
  absl::Status io = FaultEnv::IoError("/d/x.log");
  CHECK(io.code() == absl::StatusCode::kInternal);
  CHECK(io.message() == "write /d/x.log: Input/output error");
  absl::Status full = FaultEnv::NoSpace("/d/x.log", "allocate");
  CHECK(full.code() == absl::StatusCode::kResourceExhausted);
  CHECK(full.message() == "allocate /d/x.log: No space left on device");
}

// Runs the i-th operation of kind `op` against `f` / `dir`; each call is a fresh one.
absl::Status DoOp(FaultEnv& env, FaultOp op, File& f, const TempDir& dir, int i) {
  switch (op) {
    case FaultOp::kWrite: return f.Write(static_cast<uint64_t>(i), Bytes("w"));
    case FaultOp::kSync: return f.Sync();
    case FaultOp::kOpen: return env.OpenFile(dir.Sub(fmt::format("o{}", i)), OpenMode::kCreate)
                             .status();
    case FaultOp::kRename: {
      const std::string from = dir.Sub(fmt::format("r{}", i));
      PutDurably(from, "r");
      return env.Rename(from, from + ".renamed");
    }
    case FaultOp::kMap: return f.Map(4096, false).status();
    default: FAIL("unexpected op"); return absl::OkStatus();
  }
}

// True when the i-th DoOp took effect.
bool TookEffect(FaultOp op, const TempDir& dir, int i) {
  switch (op) {
    case FaultOp::kWrite: return OnDisk(dir.Sub("f")).size() > static_cast<size_t>(i);
    case FaultOp::kOpen: return io::PosixEnv()->FileExists(dir.Sub(fmt::format("o{}", i)));
    case FaultOp::kRename:
      return io::PosixEnv()->FileExists(dir.Sub(fmt::format("r{}.renamed", i)));
    default: return true;  // sync and map leave nothing to look at
  }
}

TEST_CASE("FaultEnv FailNth", "[fault_env]") {
  const FaultOp op = GENERATE(FaultOp::kWrite, FaultOp::kSync, FaultOp::kOpen,
                              FaultOp::kRename, FaultOp::kMap);
  const bool persistent = GENERATE(false, true);
  CAPTURE(FaultOpName(op), persistent);
  TempDir dir;
  FaultEnv env;
  auto f = MustOpen(&env, dir.Sub("f"), OpenMode::kCreate);
  const absl::Status error = FaultEnv::IoError(dir.Sub("f"), FaultOpName(op));
  env.FailNth(op, 2, error, persistent);

  CHECK_OK(DoOp(env, op, *f, dir, 0));
  CHECK(DoOp(env, op, *f, dir, 1) == error);
  if (op != FaultOp::kSync && op != FaultOp::kMap) CHECK_FALSE(TookEffect(op, dir, 1));
  if (persistent) {
    CHECK(DoOp(env, op, *f, dir, 2) == error);
    CHECK(DoOp(env, op, *f, dir, 3) == error);
  } else {
    CHECK_OK(DoOp(env, op, *f, dir, 2));
    CHECK(TookEffect(op, dir, 2));
  }
  env.ClearFaults();
  CHECK_OK(DoOp(env, op, *f, dir, 4));
}

TEST_CASE("FaultEnv FailNth counts only matching paths and kinds", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  auto log = MustOpen(&env, dir.Sub("0.log"), OpenMode::kCreate);
  auto index = MustOpen(&env, dir.Sub("0.index"), OpenMode::kCreate);
  env.FailNth(FaultOp::kSync, 1, FaultEnv::IoError(dir.Sub("0.index"), "fdatasync"),
              /*persistent=*/true, ".index");
  env.FailNth(FaultOp::kAny, 3, FaultEnv::NoSpace(dir.Sub("0.log")), false, ".log");

  CHECK_OK(log->Write(0, Bytes("a")));  // any #1
  CHECK_OK(log->Sync());                // any #2
  CHECK(index->Sync().code() == absl::StatusCode::kInternal);
  CHECK(index->Sync().code() == absl::StatusCode::kInternal);
  CHECK_OK(index->Write(0, Bytes("i")));
  CHECK(log->Truncate(0).code() == absl::StatusCode::kResourceExhausted);  // any #3
  CHECK_OK(log->Write(1, Bytes("b")));
  CHECK(OnDisk(dir.Sub("0.log")) == "ab");
}

TEST_CASE("FaultEnv ShortWriteNth leaves exactly a prefix", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("f");
  auto f = MustOpen(&env, path, OpenMode::kCreate);
  REQUIRE_OK(f->Write(0, Bytes("0123456789")));
  env.ShortWriteNth(2, FaultEnv::NoSpace(path));

  CHECK_OK(f->Write(10, Bytes("abcdefgh")));
  absl::Status s = f->Write(18, Bytes("ABCDEFGHIJ"));
  CHECK(s.code() == absl::StatusCode::kResourceExhausted);
  CHECK(OnDisk(path) == "0123456789abcdefghABCDE");
  CHECK_OK(f->Write(23, Bytes("!")));
  CHECK(OnDisk(path) == "0123456789abcdefghABCDE!");
}

TEST_CASE("FaultEnv KillAfter", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("f");
  PutDurably(dir.Sub("other"), "other");
  env.KillAfter(3);

  auto f = MustOpen(&env, path, OpenMode::kCreate);  // 1
  REQUIRE_OK(f->Write(0, Bytes("abc")));              // 2
  REQUIRE_OK(f->Sync());                              // 3
  CHECK_FALSE(env.dead());

  absl::Status s = f->Write(3, Bytes("def"));
  CHECK(s.code() == absl::StatusCode::kInternal);
  CHECK_THAT(std::string(s.message()), Catch::Contains("power lost"));
  CHECK(env.dead());
  CHECK_FALSE(f->Sync().ok());
  CHECK_FALSE(f->Truncate(0).ok());
  CHECK_FALSE(f->Allocate(100).ok());
  CHECK_FALSE(env.Rename(path, dir.Sub("g")).ok());
  CHECK_FALSE(env.RemoveFile(dir.Sub("other")).ok());
  CHECK_FALSE(env.SyncDir(dir.path()).ok());
  CHECK_FALSE(env.CreateDir(dir.Sub("sub")).ok());
  CHECK_FALSE(env.OpenFile(dir.Sub("new"), OpenMode::kCreate).ok());

  // None of it happened, and reads still work.
  CHECK(OnDisk(path) == "abc");
  CHECK(io::PosixEnv()->FileExists(dir.Sub("other")));
  CHECK_FALSE(io::PosixEnv()->FileExists(dir.Sub("g")));
  CHECK_FALSE(io::PosixEnv()->FileExists(dir.Sub("sub")));
  CHECK_FALSE(io::PosixEnv()->FileExists(dir.Sub("new")));
  absl::StatusOr<std::vector<uint8_t>> read = io::ReadFile(&env, path);
  REQUIRE_OK(read);
  CHECK(Str(*read) == "abc");
  CHECK_OK(f->Map(3, false));

  f.reset();
  REQUIRE_OK(env.PowerCut(1));
  CHECK_FALSE(env.dead());
  CHECK_OK(env.CreateDir(dir.Sub("sub")));
}

TEST_CASE("FaultEnv KillAfter(0) kills the next mutation", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  env.KillAfter(0);
  CHECK_FALSE(env.OpenFile(dir.Sub("f"), OpenMode::kCreate).ok());
  CHECK(env.dead());
}

TEST_CASE("PowerCut requires every file and mapping to be closed", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  auto f = MustOpen(&env, dir.Sub("f"), OpenMode::kCreate);
  CHECK(env.PowerCut(0).code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE_OK(f->Truncate(10));
  absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(10, false);
  REQUIRE_OK(region);
  f.reset();
  CHECK(env.PowerCut(0).code() == absl::StatusCode::kFailedPrecondition);
  region->reset();
  CHECK_OK(env.PowerCut(0));
}

TEST_CASE("PowerCut drops unsynced appends, maybe leaving a torn prefix", "[fault_env]") {
  const std::string synced(100, 's');
  std::string unsynced;
  for (int i = 0; i < 100; ++i) unsynced += static_cast<char>('a' + i % 26);
  std::set<size_t> sizes;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    CAPTURE(seed);
    TempDir dir;
    FaultEnv env;
    const std::string path = dir.Sub("0.log");
    {
      auto f = MustOpen(&env, path, OpenMode::kCreate);
      REQUIRE_OK(env.SyncDir(dir.path()));
      REQUIRE_OK(f->Write(0, Bytes(synced)));
      REQUIRE_OK(f->Sync());
      REQUIRE_OK(f->Write(100, Bytes(unsynced)));
    }
    REQUIRE_OK(env.PowerCut(seed));
    const std::string after = OnDisk(path);
    CHECK(after.size() >= synced.size());
    CHECK(after == (synced + unsynced).substr(0, after.size()));
    sizes.insert(after.size());
  }
  CHECK(sizes.size() > 1);  // the torn length depends on the seed
}

TEST_CASE("PowerCut keeps files already on disk and drops only new data", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("old");
  PutDurably(path, "durable");
  {
    auto f = MustOpen(&env, path, OpenMode::kReadWrite);
    REQUIRE_OK(f->Write(7, Bytes(std::string(1000, 'x'))));
  }
  REQUIRE_OK(env.PowerCut(3));
  const std::string after = OnDisk(path);
  CHECK(after.substr(0, 7) == "durable");
  CHECK(after.size() <= 1007);

  // Tracking was reset: what is on disk now is durable, so a second cut changes nothing.
  REQUIRE_OK(env.PowerCut(4));
  CHECK(OnDisk(path) == after);
}

TEST_CASE("PowerCut restores mapped bytes to the last msync", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("0.index");
  {
    auto f = MustOpen(&env, path, OpenMode::kCreate);
    REQUIRE_OK(f->Allocate(4096));
    REQUIRE_OK(f->Sync());
    REQUIRE_OK(env.SyncDir(dir.path()));
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(4096, true);
    REQUIRE_OK(region);
    uint8_t* p = (*region)->data();
    std::memcpy(p, "AAAA", 4);
    std::memcpy(p + 200, "ZZZZ", 4);
    REQUIRE_OK((*region)->Sync(0, 4));
    std::memcpy(p, "BBBB", 4);     // after the msync: lost
    std::memcpy(p + 100, "CCCC", 4);  // never synced: lost
    REQUIRE_OK((*region)->Sync(200, 4));  // synced: kept
  }
  REQUIRE_OK(env.PowerCut(7));
  const std::string after = OnDisk(path);
  REQUIRE(after.size() == 4096);
  CHECK(after.substr(0, 4) == "AAAA");
  CHECK(after.substr(100, 4) == std::string(4, '\0'));
  CHECK(after.substr(200, 4) == "ZZZZ");
}

TEST_CASE("PowerCut restores a mapped file to its contents when mapped", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("0.timeindex");
  PutDurably(path, "0123456789");
  {
    auto f = MustOpen(&env, path, OpenMode::kReadWrite);
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(4096, true);
    REQUIRE_OK(region);
    std::memcpy((*region)->data() + 2, "xyz", 3);
    CHECK(OnDisk(path) == "01xyz56789");
  }
  REQUIRE_OK(env.PowerCut(0));
  CHECK(OnDisk(path) == "0123456789");
}

TEST_CASE("PowerCut: File::Sync also makes mapped stores durable", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string path = dir.Sub("0.index");
  PutDurably(path, std::string(64, '.'));
  {
    auto f = MustOpen(&env, path, OpenMode::kReadWrite);
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(64, true);
    REQUIRE_OK(region);
    std::memcpy((*region)->data() + 10, "kept", 4);
    REQUIRE_OK(f->Sync());
    std::memcpy((*region)->data() + 20, "lost", 4);
  }
  REQUIRE_OK(env.PowerCut(0));
  std::string expected(64, '.');
  expected.replace(10, 4, "kept");
  CHECK(OnDisk(path) == expected);
}

TEST_CASE("PowerCut removes files created since the last SyncDir", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  REQUIRE_OK(env.CreateDir(dir.Sub("p-0")));
  REQUIRE_OK(env.CreateDir(dir.Sub("p-1")));
  for (const char* name : {"p-0/unsynced", "p-1/synced", "p-1/also-synced"}) {
    auto f = MustOpen(&env, dir.Sub(name), OpenMode::kCreateExclusive);
    REQUIRE_OK(f->Write(0, Bytes("data")));
    REQUIRE_OK(f->Sync());
  }
  REQUIRE_OK(env.SyncDir(dir.path()));  // the parent's sync does not cover p-0's entries
  REQUIRE_OK(env.SyncDir(dir.Sub("p-1") + "/"));
  auto late = MustOpen(&env, dir.Sub("p-1/late"), OpenMode::kCreate);
  late.reset();

  REQUIRE_OK(env.PowerCut(0));
  io::Env* posix = io::PosixEnv();
  CHECK_FALSE(posix->FileExists(dir.Sub("p-0/unsynced")));
  CHECK(OnDisk(dir.Sub("p-1/synced")) == "data");
  CHECK(OnDisk(dir.Sub("p-1/also-synced")) == "data");
  CHECK_FALSE(posix->FileExists(dir.Sub("p-1/late")));
}

TEST_CASE("PowerCut undoes a rename whose directory was not synced", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  const std::string target = dir.Sub("meta");
  REQUIRE_OK(io::WriteFileAtomically(&env, target, Bytes("old")));

  SECTION("temp file over an existing target: the old contents come back") {
    {
      auto tmp = MustOpen(&env, target + ".tmp", OpenMode::kCreate);
      REQUIRE_OK(tmp->Write(0, Bytes("new contents")));
      REQUIRE_OK(tmp->Sync());
    }
    REQUIRE_OK(env.Rename(target + ".tmp", target));
    CHECK(OnDisk(target) == "new contents");
    REQUIRE_OK(env.PowerCut(0));
    CHECK(OnDisk(target) == "old");
    CHECK_FALSE(io::PosixEnv()->FileExists(target + ".tmp"));  // its creation is undone too
  }
  SECTION("a durable source: its name reappears and the destination goes") {
    REQUIRE_OK(env.Rename(target, dir.Sub("moved")));
    REQUIRE_OK(env.PowerCut(0));
    CHECK(OnDisk(target) == "old");
    CHECK_FALSE(io::PosixEnv()->FileExists(dir.Sub("moved")));
  }
  SECTION("a later rename over the same target is undone first") {
    PutDurably(dir.Sub("a"), "A");
    PutDurably(dir.Sub("b"), "B");
    REQUIRE_OK(env.Rename(dir.Sub("a"), target));
    REQUIRE_OK(env.Rename(dir.Sub("b"), target));
    REQUIRE_OK(env.PowerCut(0));
    CHECK(OnDisk(target) == "old");
    CHECK(OnDisk(dir.Sub("a")) == "A");
    CHECK(OnDisk(dir.Sub("b")) == "B");
  }
  SECTION("WriteFileAtomically syncs the directory, so the new contents stay") {
    REQUIRE_OK(io::WriteFileAtomically(&env, target, Bytes("new")));
    REQUIRE_OK(env.PowerCut(0));
    CHECK(OnDisk(target) == "new");
    CHECK_FALSE(io::PosixEnv()->FileExists(target + ".tmp"));
  }
  SECTION("removals are not undone") {
    REQUIRE_OK(env.RemoveFile(target));
    REQUIRE_OK(env.PowerCut(0));
    CHECK_FALSE(io::PosixEnv()->FileExists(target));
  }
}

TEST_CASE("PowerCut undoes an unsynced directory rename", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  REQUIRE_OK(env.CreateDir(dir.Sub("t-0")));
  REQUIRE_OK(io::WriteFileAtomically(&env, dir.Sub("t-0/x"), Bytes("x")));
  REQUIRE_OK(env.SyncDir(dir.path()));
  REQUIRE_OK(env.Rename(dir.Sub("t-0"), dir.Sub("t-0.deleted")));
  REQUIRE_OK(env.PowerCut(0));
  CHECK(OnDisk(dir.Sub("t-0/x")) == "x");
  CHECK_FALSE(io::PosixEnv()->FileExists(dir.Sub("t-0.deleted")));
}

// Several files with unsynced tails; returns what each holds after PowerCut(seed).
std::vector<std::string> CutScenario(uint64_t seed) {
  TempDir dir;
  FaultEnv env;
  std::vector<std::string> out;
  for (int i = 0; i < 4; ++i) {
    auto f = MustOpen(&env, dir.Sub(fmt::format("{}.log", i)), OpenMode::kCreate);
    REQUIRE_OK(f->Write(0, Bytes(std::string(50, 'a' + i))));
    REQUIRE_OK(f->Sync());
    REQUIRE_OK(f->Write(50, Bytes(std::string(500, 'A' + i))));
  }
  REQUIRE_OK(env.SyncDir(dir.path()));
  REQUIRE_OK(env.PowerCut(seed));
  for (int i = 0; i < 4; ++i) out.push_back(OnDisk(dir.Sub(fmt::format("{}.log", i))));
  return out;
}

TEST_CASE("PowerCut is deterministic for a seed", "[fault_env]") {
  CHECK(CutScenario(42) == CutScenario(42));
  CHECK(CutScenario(7) == CutScenario(7));
  CHECK(CutScenario(42) != CutScenario(7));
}

TEST_CASE("FaultEnv is safe to use from several threads", "[fault_env]") {
  TempDir dir;
  FaultEnv env;
  env.FailNth(FaultOp::kSync, 1000, FaultEnv::IoError("any"), /*persistent=*/true);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&env, &dir, t] {
      absl::StatusOr<std::unique_ptr<File>> f =
          env.OpenFile(dir.Sub(fmt::format("{}.log", t)), OpenMode::kCreate);
      if (!f.ok()) return;
      for (int i = 0; i < 100; ++i) {
        (void)(*f)->Write(static_cast<uint64_t>(i), Bytes("x"));
        if (i % 10 == 0) (void)(*f)->Sync();
      }
      (void)env.count(FaultOp::kAny);
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(env.count(FaultOp::kWrite) == 400);
  CHECK(env.count(FaultOp::kSync) == 40);
  REQUIRE_OK(env.SyncDir(dir.path()));
  REQUIRE_OK(env.PowerCut(0));
  for (int t = 0; t < 4; ++t) {
    CHECK(OnDisk(dir.Sub(fmt::format("{}.log", t))).size() >= 91);
  }
}

}  // namespace
}  // namespace runnel::testing
