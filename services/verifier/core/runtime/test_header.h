// cppforge_test.h, inlined: there is no such file, so the candidate cannot include it.
namespace cppforge_test_CPPFORGE_TOKEN {
static int passed = 0, total = 0;
}
#define CPPFORGE_CHECK(cond) do { ++::cppforge_test_CPPFORGE_TOKEN::total; \
    if (static_cast<bool>(cond)) ++::cppforge_test_CPPFORGE_TOKEN::passed; } while (0)
#define CPPFORGE_REPORT() (::cppforge_r_CPPFORGE_TOKEN(::cppforge_test_CPPFORGE_TOKEN::passed, \
    ::cppforge_test_CPPFORGE_TOKEN::total), static_cast<void>(__builtin_printf("\nPASSED %d/%d\n", \
    ::cppforge_test_CPPFORGE_TOKEN::passed, ::cppforge_test_CPPFORGE_TOKEN::total)))
