#undef assert
#ifdef NDEBUG
#define assert(expr) (static_cast<void>(0))
#else
#define assert(expr) (static_cast<bool>(expr) ? void(0) : ::cppforge_f_CPPFORGE_TOKEN(#expr, __FILE__, __LINE__, __extension__ __PRETTY_FUNCTION__))
#endif
