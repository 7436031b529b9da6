// Standard output for the `runnel` tool: buffered writes straight to the file descriptor,
// so that a reader that goes away (`runnel consume T | head`) is noticed as EPIPE (main()
// ignores SIGPIPE) and the command stops quietly instead of dying or throwing.
#ifndef RUNNEL_TOOLS_OUTPUT_H_
#define RUNNEL_TOOLS_OUTPUT_H_

#include <string>
#include <string_view>

namespace runnel::tools {

class Output {
 public:
  explicit Output(int fd);
  ~Output();  // Flush()es
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // Appends to the buffer, writing it out once it is large. False once output is closed.
  bool Write(std::string_view text);
  // The buffer to append to directly (fmt::format_to(std::back_inserter(out.buffer()))).
  std::string& buffer() { return buffer_; }
  // Writes out everything buffered. False if the reader has gone (EPIPE) or writing failed;
  // later writes are dropped.
  bool Flush();
  // True once a write failed: the caller should stop producing output.
  bool closed() const { return closed_; }

 private:
  int fd_;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace runnel::tools

#endif  // RUNNEL_TOOLS_OUTPUT_H_
