// What the shared library exports. The library is compiled with hidden visibility; a declaration
// is part of the installed ABI only when it carries one of these marks.
//   SADANET_API    C++ classes and functions of the public headers.
//   SADANET_C_API  the C API (sadanet_c.h): extern "C" in C++, exported in both languages.
#pragma once

#if defined(_WIN32)
#define SADANET_EXPORT_ATTR __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define SADANET_EXPORT_ATTR __attribute__((visibility("default")))
#else
#define SADANET_EXPORT_ATTR
#endif

#define SADANET_API SADANET_EXPORT_ATTR

#ifdef __cplusplus
#define SADANET_C_API extern "C" SADANET_EXPORT_ATTR
#else
#define SADANET_C_API SADANET_EXPORT_ATTR
#endif
