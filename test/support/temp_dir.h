// A fresh directory under $TMPDIR (or /tmp) for one test, removed with its contents when
// the TempDir goes out of scope.
#ifndef RUNNEL_TEST_SUPPORT_TEMP_DIR_H_
#define RUNNEL_TEST_SUPPORT_TEMP_DIR_H_

#include <string>

namespace runnel::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace runnel::testing

#endif  // RUNNEL_TEST_SUPPORT_TEMP_DIR_H_
