// cppforge guard block: sits between the candidate's code and the trusted test code.
// (CPPFORGE_TOKEN is replaced by a per-run token; the candidate's code comes before this text and
// cannot name anything declared here.)
// Options and packing the candidate set with pragmas do not carry over into the test's functions.
#pragma GCC reset_options
#pragma pack()
CPPFORGE_RESTORE
// The refusal macros of the prelude guard only the candidate's code.
CPPFORGE_LIFT
// The runner's entry points, under per-run names that the linker aliases (--defsym).
extern "C" {
void cppforge_r_CPPFORGE_TOKEN(long long, long long) noexcept;
[[noreturn]] void cppforge_f_CPPFORGE_TOKEN(const char*, const char*, unsigned int, const char*) noexcept;
int cppforge_p_CPPFORGE_TOKEN(const char*, __builtin_va_list) noexcept;
int cppforge_q_CPPFORGE_TOKEN(void*, const char*, __builtin_va_list) noexcept;
int cppforge_t_CPPFORGE_TOKEN(const char*) noexcept;
}
