// Helpers shared by the fuzz targets that go through real files: a scratch directory per
// process (in /dev/shm when there is one, so a run does not wear a disk), and a check that
// aborts with a message, which libFuzzer reports as a crash.
#ifndef RUNNEL_TEST_FUZZ_FUZZ_SCRATCH_H_
#define RUNNEL_TEST_FUZZ_FUZZ_SCRATCH_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace runnel::fuzz {

// "<tmp>/runnel-<name>-fuzz-<pid>", emptied and created; removed again when the process
// exits normally (a crash leaves it for inspection).
inline std::string FreshScratchDir(std::string_view name) {
  namespace fs = std::filesystem;
  struct RemovedAtExit {
    std::string dir;
    ~RemovedAtExit() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  };
  const char* shm = "/dev/shm";
  const std::string base = fs::is_directory(shm) ? shm : fs::temp_directory_path().string();
  const std::string dir =
      base + "/runnel-" + std::string(name) + "-fuzz-" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  // One per process: each target calls this once, for its function-local static.
  static const RemovedAtExit cleanup{dir};
  return dir;
}

inline void WriteBytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Aborts naming the broken property unless `ok`.
inline void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz: property broken: %s\n", what);
    std::abort();
  }
}

}  // namespace runnel::fuzz

#endif  // RUNNEL_TEST_FUZZ_FUZZ_SCRATCH_H_
