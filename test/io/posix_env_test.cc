#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "io/env.h"
#include "support/status_matchers.h"
#include "support/temp_dir.h"

namespace runnel::io {
namespace {

using runnel::testing::TempDir;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string Str(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

std::unique_ptr<File> MustOpen(const std::string& path, OpenMode mode) {
  absl::StatusOr<std::unique_ptr<File>> f = PosixEnv()->OpenFile(path, mode);
  REQUIRE_OK(f);
  return *std::move(f);
}

std::string ReadAt(const File& f, uint64_t offset, size_t n) {
  std::vector<uint8_t> buf(n);
  absl::StatusOr<size_t> got = f.Read(offset, buf);
  REQUIRE_OK(got);
  buf.resize(*got);
  return Str(buf);
}

TEST_CASE("OpenFile modes", "[posix_env]") {
  TempDir dir;
  Env* env = PosixEnv();
  const std::string path = dir.Sub("f");

  SECTION("read-only on a missing file is NotFound naming the path") {
    absl::StatusOr<std::unique_ptr<File>> f = env->OpenFile(path, OpenMode::kReadOnly);
    REQUIRE(f.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(f.status().message()), Catch::Contains(path));
  }
  SECTION("read-write on a missing file is NotFound") {
    CHECK(env->OpenFile(path, OpenMode::kReadWrite).status().code() ==
          absl::StatusCode::kNotFound);
  }
  SECTION("create makes the file and reopens it without truncating") {
    REQUIRE_OK(MustOpen(path, OpenMode::kCreate)->Write(0, Bytes("abc")));
    CHECK(env->FileExists(path));
    CHECK(ReadAt(*MustOpen(path, OpenMode::kCreate), 0, 10) == "abc");
  }
  SECTION("create-exclusive on an existing file is AlreadyExists") {
    MustOpen(path, OpenMode::kCreateExclusive);
    absl::StatusOr<std::unique_ptr<File>> again = env->OpenFile(path, OpenMode::kCreateExclusive);
    CHECK(again.status().code() == absl::StatusCode::kAlreadyExists);
    CHECK_THAT(std::string(again.status().message()), Catch::Contains(path));
  }
  SECTION("a read-only file refuses writes") {
    MustOpen(path, OpenMode::kCreate);
    CHECK_FALSE(MustOpen(path, OpenMode::kReadOnly)->Write(0, Bytes("x")).ok());
  }
}

TEST_CASE("Write and Read at offsets", "[posix_env]") {
  TempDir dir;
  auto f = MustOpen(dir.Sub("f"), OpenMode::kCreate);
  REQUIRE_OK(f->Write(0, Bytes("hello")));
  REQUIRE_OK(f->Write(8, Bytes("world")));  // leaves a hole of zeros at [5, 8)
  REQUIRE_OK(f->Write(1, Bytes("E")));

  CHECK(ReadAt(*f, 0, 13) == std::string("hEllo\0\0\0world", 13));
  CHECK(ReadAt(*f, 8, 100) == "world");  // fewer bytes only at the end
  CHECK(ReadAt(*f, 13, 4).empty());
  CHECK(ReadAt(*f, 1000, 4).empty());
  absl::StatusOr<uint64_t> size = f->Size();
  REQUIRE_OK(size);
  CHECK(*size == 13);
  REQUIRE_OK(f->Sync());
}

TEST_CASE("Size and Truncate", "[posix_env]") {
  TempDir dir;
  auto f = MustOpen(dir.Sub("f"), OpenMode::kCreate);
  REQUIRE_OK(f->Write(0, Bytes("0123456789")));
  REQUIRE_OK(f->Truncate(4));
  CHECK(*f->Size() == 4);
  CHECK(ReadAt(*f, 0, 10) == "0123");
  REQUIRE_OK(f->Truncate(6));
  CHECK(*f->Size() == 6);
  CHECK(ReadAt(*f, 0, 10) == std::string("0123\0\0", 6));
}

TEST_CASE("Allocate sets the size and reads back zeros", "[posix_env]") {
  TempDir dir;
  auto f = MustOpen(dir.Sub("f"), OpenMode::kCreate);
  REQUIRE_OK(f->Write(0, Bytes("ab")));
  REQUIRE_OK(f->Allocate(4096));
  CHECK(*f->Size() == 4096);
  CHECK(ReadAt(*f, 0, 4) == std::string("ab\0\0", 4));
  REQUIRE_OK(f->Allocate(1));
  CHECK(*f->Size() == 1);
}

TEST_CASE("Map", "[posix_env]") {
  TempDir dir;
  const std::string path = dir.Sub("f");
  auto f = MustOpen(path, OpenMode::kCreate);

  SECTION("zero bytes is InvalidArgument") {
    CHECK(f->Map(0, false).status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("beyond the end of the file, then the file grows under it") {
    REQUIRE_OK(f->Write(0, Bytes("head")));
    const size_t length = 64 * 1024;
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(length, /*writable=*/false);
    REQUIRE_OK(region);
    REQUIRE((*region)->size() == length);
    CHECK(Str({(*region)->data(), 4}) == "head");

    std::vector<uint8_t> tail(100, 'z');
    REQUIRE_OK(f->Write(length - tail.size(), tail));
    CHECK(Str({(*region)->data() + length - tail.size(), tail.size()}) == Str(tail));
    CHECK((*region)->data()[4096] == 0);  // the hole in between reads as zeros
  }
  SECTION("writable: stores through the mapping are visible to Read and survive Sync") {
    REQUIRE_OK(f->Truncate(8192));
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(8192, /*writable=*/true);
    REQUIRE_OK(region);
    std::memcpy((*region)->data() + 5000, "mapped", 6);
    REQUIRE_OK((*region)->Sync(5000, 6));
    REQUIRE_OK((*region)->Sync(0, 8192));
    REQUIRE_OK((*region)->Sync(8000, 1 << 20));  // clipped to the mapping
    CHECK(ReadAt(*f, 5000, 6) == "mapped");
  }
  SECTION("stays readable after the file is removed and closed") {
    REQUIRE_OK(f->Write(0, Bytes("still here")));
    absl::StatusOr<std::shared_ptr<MappedRegion>> region = f->Map(10, /*writable=*/false);
    REQUIRE_OK(region);
    f.reset();
    REQUIRE_OK(PosixEnv()->RemoveFile(path));
    CHECK_FALSE(PosixEnv()->FileExists(path));
    CHECK(Str({(*region)->data(), 10}) == "still here");
  }
}

TEST_CASE("Directories", "[posix_env]") {
  TempDir dir;
  Env* env = PosixEnv();
  const std::string sub = dir.Sub("sub");

  REQUIRE_OK(env->CreateDir(sub));
  REQUIRE_OK(env->CreateDir(sub));  // OK if it exists
  MustOpen(JoinPath(sub, "a"), OpenMode::kCreate);
  MustOpen(JoinPath(sub, "b"), OpenMode::kCreate);

  absl::StatusOr<std::vector<std::string>> names = env->ListDir(sub);
  REQUIRE_OK(names);
  std::sort(names->begin(), names->end());
  CHECK(*names == std::vector<std::string>{"a", "b"});
  REQUIRE_OK(env->SyncDir(sub));

  CHECK(env->ListDir(dir.Sub("missing")).status().code() == absl::StatusCode::kNotFound);
  CHECK_FALSE(env->RemoveDir(sub).ok());  // not empty
  REQUIRE_OK(env->RemoveFile(JoinPath(sub, "a")));
  CHECK(env->RemoveFile(JoinPath(sub, "a")).code() == absl::StatusCode::kNotFound);
  REQUIRE_OK(env->RemoveFile(JoinPath(sub, "b")));
  REQUIRE_OK(env->RemoveDir(sub));
  CHECK_FALSE(env->FileExists(sub));
}

TEST_CASE("JoinPath", "[posix_env]") {
  CHECK(JoinPath("a", "b") == "a/b");
  CHECK(JoinPath("a/", "b") == "a/b");
  CHECK(JoinPath("", "b") == "b");
}

TEST_CASE("Rename replaces the destination", "[posix_env]") {
  TempDir dir;
  Env* env = PosixEnv();
  REQUIRE_OK(WriteFileAtomically(env, dir.Sub("from"), Bytes("new")));
  REQUIRE_OK(WriteFileAtomically(env, dir.Sub("to"), Bytes("old contents")));
  REQUIRE_OK(env->Rename(dir.Sub("from"), dir.Sub("to")));
  CHECK_FALSE(env->FileExists(dir.Sub("from")));
  CHECK(Str(*ReadFile(env, dir.Sub("to"))) == "new");

  absl::Status missing = env->Rename(dir.Sub("nope"), dir.Sub("to"));
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK_THAT(std::string(missing.message()), Catch::Contains(dir.Sub("nope")));
}

TEST_CASE("WriteFileAtomically and ReadFile", "[posix_env]") {
  TempDir dir;
  Env* env = PosixEnv();
  const std::string path = dir.Sub("meta");
  REQUIRE_OK(WriteFileAtomically(env, path, Bytes("first version, longer")));
  REQUIRE_OK(WriteFileAtomically(env, path, Bytes("second")));

  absl::StatusOr<std::vector<uint8_t>> contents = ReadFile(env, path);
  REQUIRE_OK(contents);
  CHECK(Str(*contents) == "second");
  CHECK(*env->ListDir(dir.path()) == std::vector<std::string>{"meta"});  // no temp file left

  REQUIRE_OK(WriteFileAtomically(env, path, {}));
  CHECK(ReadFile(env, path)->empty());
  CHECK(ReadFile(env, dir.Sub("missing")).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("LockFile", "[posix_env]") {
  TempDir dir;
  Env* env = PosixEnv();
  const std::string path = dir.Sub("LOCK");

  absl::StatusOr<std::unique_ptr<FileLock>> lock = env->LockFile(path);
  REQUIRE_OK(lock);
  CHECK(Str(*ReadFile(env, path)) == fmt::format("{}\n", getpid()));

  absl::StatusOr<std::unique_ptr<FileLock>> second = env->LockFile(path);
  REQUIRE(second.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(second.status().message()), Catch::Contains(path));
  CHECK_THAT(std::string(second.status().message()),
             Catch::Contains(fmt::format("{}", getpid())));

  lock->reset();  // releases
  absl::StatusOr<std::unique_ptr<FileLock>> third = env->LockFile(path);
  CHECK_OK(third);

  CHECK(env->LockFile(dir.Sub("no/such/dir/LOCK")).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("NowMillis is wall-clock time", "[posix_env]") {
  const int64_t now = PosixEnv()->NowMillis();
  CHECK(now > 1'600'000'000'000);  // after September 2020
  CHECK(PosixEnv()->NowMillis() >= now);
}

}  // namespace
}  // namespace runnel::io
