# Shared compile settings for every Trolley target.
#
# trolley_defaults(<target>) applies warnings (as errors when TROLLEY_WERROR
# is on) and the sanitizers (when TROLLEY_SANITIZE is on). Sanitizer flags
# are also added globally so that test binaries and libraries agree.

if(TROLLEY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(trolley_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wimplicit-fallthrough
                         # g++ 12 reports false positives through std::variant
                         # and std::optional at -O2 (GCC bug 105562).
                         -Wno-maybe-uninitialized)
  if(TROLLEY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}>)
endfunction()

# trolley_use_jemalloc(<target>): links the program with jemalloc when
# TROLLEY_JEMALLOC is on (and the sanitizers, which bring their own
# allocator, are off). For the long-running programs that decode, merge
# and encode a cart on every operation: trolleyd, trolley-bench and
# trolley-sim (simulated cart operations per second rose 13%). With
# glibc's malloc, allocation took about a third of the load generator's
# CPU on grown carts; jemalloc raised flash-sale throughput by about a
# quarter (docs/benchmarks.md).
function(trolley_use_jemalloc target)
  if(TARGET PkgConfig::JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()
