// Runs the `runnel` tool's `verify` command (built beside the driver: RUNNEL_TOOL_PATH) on
// a data directory, as tortures do to check files after a fault.
#ifndef RUNNEL_TEST_TORTURE_VERIFY_TOOL_H_
#define RUNNEL_TEST_TORTURE_VERIFY_TOOL_H_

#include <string>

namespace runnel::torture {

struct VerifyRun {
  int exit_code = -1;  // -1: it could not run, or did not exit normally (output says why)
  std::string output;  // stdout and stderr
};

// `runnel --dir DIR verify`; exit code 0 means every CRC and index checked out.
VerifyRun RunVerifyTool(const std::string& dir);

}  // namespace runnel::torture

#endif  // RUNNEL_TEST_TORTURE_VERIFY_TOOL_H_
