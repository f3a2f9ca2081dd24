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
