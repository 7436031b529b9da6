// RUNNEL_EXPORT marks the public API. runnel builds with hidden visibility, so in a shared
// build only what carries this macro is exported; in a static build it expands to nothing
// that matters. Applications never define RUNNEL_BUILDING; CMake's runnel::runnel target
// defines RUNNEL_SHARED for them when the library is shared. (ELF needs the same
// attribute on both sides, so RUNNEL_BUILDING changes nothing here.)
#ifndef RUNNEL_EXPORT_H_
#define RUNNEL_EXPORT_H_

#if defined(RUNNEL_SHARED)
#define RUNNEL_EXPORT __attribute__((visibility("default")))
#else
#define RUNNEL_EXPORT
#endif

#endif  // RUNNEL_EXPORT_H_
