// printf/fprintf/puts calls whose format is a test literal holding "PASSED": the runner prints them
// and reports the marker from the argument values themselves.
namespace cppforge_CPPFORGE_TOKEN {
inline int printf_marker(const char* format, ...) noexcept {
  __builtin_va_list args;
  __builtin_va_start(args, format);
  int written = ::cppforge_p_CPPFORGE_TOKEN(format, args);
  __builtin_va_end(args);
  return written;
}
inline int fprintf_marker(void* stream, const char* format, ...) noexcept {
  __builtin_va_list args;
  __builtin_va_start(args, format);
  int written = ::cppforge_q_CPPFORGE_TOKEN(stream, format, args);
  __builtin_va_end(args);
  return written;
}
inline int puts_marker(const char* text) noexcept { return ::cppforge_t_CPPFORGE_TOKEN(text); }
}  // namespace cppforge_CPPFORGE_TOKEN
