// The library's version, for logs and compatibility checks.
// Thread-safe; returns a string with static storage duration.
#ifndef RUNNEL_VERSION_H_
#define RUNNEL_VERSION_H_

#include <string_view>

#include "runnel/export.h"

#define RUNNEL_VERSION_MAJOR 0
#define RUNNEL_VERSION_MINOR 1
#define RUNNEL_VERSION_PATCH 0

namespace runnel {

// "MAJOR.MINOR.PATCH" of the library that is linked, which may differ from the macros
// above when a program was compiled against other headers than the library it runs with.
RUNNEL_EXPORT std::string_view Version();

}  // namespace runnel

#endif  // RUNNEL_VERSION_H_
