#include "io/env.h"

#include "util/status_macros.h"

namespace runnel::io {

absl::Status File::WriteV(uint64_t offset, std::span<const std::span<const uint8_t>> parts) {
  for (std::span<const uint8_t> part : parts) {
    RUNNEL_RETURN_IF_ERROR(Write(offset, part));
    offset += part.size();
  }
  return absl::OkStatus();
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteFileAtomically(Env* env, const std::string& path,
                                 std::span<const uint8_t> contents) {
  // One writer per path at a time (callers hold the owner's lock), so a fixed temp name
  // is safe; recovery removes a *.tmp a crash left behind.
  const std::string tmp = path + ".tmp";
  absl::Status written = [&]() -> absl::Status {
    RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env->OpenFile(tmp, OpenMode::kCreate));
    RUNNEL_RETURN_IF_ERROR(file->Truncate(0));
    RUNNEL_RETURN_IF_ERROR(file->Write(0, contents));
    return file->Sync();
  }();
  if (written.ok()) written = env->Rename(tmp, path);
  if (!written.ok()) {
    env->RemoveFile(tmp).IgnoreError();  // best effort: the error to report is `written`
    return written;
  }
  return env->SyncDir(DirName(path));
}

absl::StatusOr<std::vector<uint8_t>> ReadFile(Env* env, const std::string& path) {
  RUNNEL_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env->OpenFile(path, OpenMode::kReadOnly));
  RUNNEL_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::vector<uint8_t> out(size);
  RUNNEL_ASSIGN_OR_RETURN(size_t n, file->Read(0, out));
  out.resize(n);
  return out;
}

}  // namespace runnel::io
