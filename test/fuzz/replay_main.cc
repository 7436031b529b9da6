// A main() for fuzz targets built without libFuzzer: runs LLVMFuzzerTestOneInput once on
// every file named on the command line, descending into directories (sorted, so runs are
// reproducible). CTest uses it to replay each checked-in corpus on every build, sanitizer
// builds included; by hand it reproduces a crash input with any compiler:
//   build/test/fuzz/record_batch_replay crash-0123abcd
// Each input is copied into a heap block of exactly its size, so ASan reports any read past
// its end. Exits non-zero if a path is missing or no input was found at all.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

bool ReadFile(const fs::path& path, std::vector<char>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool RunOne(const fs::path& path) {
  std::vector<char> bytes;
  if (!ReadFile(path, &bytes)) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  // new[] of 0 bytes still gives a unique non-null pointer, as libFuzzer passes.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), exact.get());
  LLVMFuzzerTestOneInput(exact.get(), bytes.size());
  return true;
}

// Collects the regular files at `path` (itself, or under it recursively) into `files`.
bool Collect(const fs::path& path, std::vector<fs::path>* files) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    files->push_back(path);
    return true;
  }
  if (!fs::is_directory(path, ec)) {
    std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", path.c_str());
    return false;
  }
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) files->push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: cannot list %s: %s\n", path.c_str(), ec.message().c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  bool ok = true;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) ok = Collect(argv[i], &files) && ok;
  std::sort(files.begin(), files.end());
  size_t ran = 0;
  for (const fs::path& file : files) {
    if (RunOne(file)) {
      ++ran;
    } else {
      ok = false;
    }
  }
  std::printf("replay: ran %zu inputs\n", ran);
  if (ran == 0) {
    std::fprintf(stderr, "replay: no inputs found; is the corpus directory right?\n");
    return 1;
  }
  return ok ? 0 : 1;
}
