# Installs the client library as a CMake package and a pkg-config module.
#
#   find_package(Trolley 0.1 CONFIG REQUIRED)         # [COMPONENTS client cart]
#   target_link_libraries(app PRIVATE Trolley::client)   # and/or Trolley::cart
#
#   c++ -std=c++20 app.cc $(pkg-config --cflags --libs trolley-client)
#
# Layout under the prefix:
#   include/trolley/<folder>/<header>.h    so "client/node_connection.h" still works
#   lib/libtrolley_*.a                     the client, cart and every internal
#                                          static library they link
#   lib/cmake/Trolley/                     TrolleyConfig.cmake, -ConfigVersion, -Targets
#   lib/pkgconfig/trolley-client.pc
#   bin/trolleyd, bin/trolley
# Tests and benchmarks are not installed.
#
# Which libraries are installed is computed, not listed: the roots
# (trolley_client, and trolley_cart when it exists) plus every non-imported
# target they link, PUBLIC or PRIVATE (a static library's private links
# are its consumers' links). Each exports as Trolley::<name without
# "trolley_">: Trolley::client, Trolley::cart, Trolley::wire, ... The
# imported targets they link (Cap'n Proto, xxHash, ...) become
# find_dependency() calls in TrolleyConfig.cmake and Requires: in the .pc
# file; one missing from the table below ("What the imported targets ...
# need in a consumer") is a configure warning, and tests/package fails until
# it is added there.
#
# Headers: for each installed library, the header next to each of its
# sources (foo.cc -> foo.h), plus header-only headers in its folder that no
# target claims, except *_internal.h and *_capnp.h (Cap'n Proto generated
# code is private to the libraries). tests/package compiles every installed
# header on its own against the installed package.
#
# A TROLLEY_SANITIZE build installs libraries instrumented with ASan+UBSan;
# its package says so: the exported targets and the .pc file carry the
# -fsanitize link flags, so consumers link the sanitizer runtimes.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TROLLEY_INSTALL_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}/trolley")
set(TROLLEY_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/Trolley")
set(TROLLEY_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# ---- Link items of one target, classified.
# Sets <prefix>_INTERNAL (non-imported targets), <prefix>_EXTERNAL (imported
# targets) and <prefix>_RAW (plain library names and flags), each a list.
# $<BUILD_INTERFACE:...> items are dropped (build tree only); $<LINK_ONLY:x>
# is x.
function(_trolley_link_items target prefix)
  get_target_property(items ${target} LINK_LIBRARIES)
  get_target_property(iface ${target} INTERFACE_LINK_LIBRARIES)
  set(internal "")
  set(external "")
  set(raw "")
  foreach(item IN LISTS items iface)
    if(item STREQUAL "" OR item MATCHES "-NOTFOUND$")
      continue()
    endif()
    if(item MATCHES "^\\$<BUILD_INTERFACE:")
      continue()
    endif()
    if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(item MATCHES "^\\$<INSTALL_INTERFACE:(.*)>$")
      set(item "${CMAKE_MATCH_1}")
    endif()
    if(item MATCHES "\\$<")
      message(WARNING "TrolleyInstall: ${target} links '${item}', a generator expression "
              "this file cannot classify; the installed package may miss it")
      continue()
    endif()
    if(TARGET ${item})
      get_target_property(imported ${item} IMPORTED)
      get_target_property(aliased ${item} ALIASED_TARGET)
      if(aliased)
        set(item ${aliased})
      endif()
      if(imported)
        list(APPEND external ${item})
      else()
        list(APPEND internal ${item})
      endif()
    elseif(item MATCHES "::")
      # An imported target found in a subdirectory (not visible here),
      # e.g. Boost::headers from client/.
      list(APPEND external ${item})
    else()
      list(APPEND raw ${item})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES internal)
  list(REMOVE_DUPLICATES external)
  list(REMOVE_DUPLICATES raw)
  set(${prefix}_INTERNAL "${internal}" PARENT_SCOPE)
  set(${prefix}_EXTERNAL "${external}" PARENT_SCOPE)
  set(${prefix}_RAW "${raw}" PARENT_SCOPE)
endfunction()

# ---- Depth-first walk from the roots. TROLLEY_EXPORTED_TARGETS ends up in
# link order (a library before the ones it needs), for the .pc file.
function(_trolley_visit target)
  get_property(seen GLOBAL PROPERTY _TROLLEY_VISITED)
  if(target IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY _TROLLEY_VISITED ${target})
  _trolley_link_items(${target} L)
  foreach(dep IN LISTS L_INTERNAL)
    _trolley_visit(${dep})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY _TROLLEY_POSTORDER ${target})
  set_property(GLOBAL APPEND PROPERTY _TROLLEY_EXTERNAL ${L_EXTERNAL})
  set_property(GLOBAL APPEND PROPERTY _TROLLEY_RAW ${L_RAW})
endfunction()

set(_trolley_roots trolley_client)
if(TARGET trolley_cart)
  list(APPEND _trolley_roots trolley_cart)
endif()
set_property(GLOBAL PROPERTY _TROLLEY_VISITED "")
set_property(GLOBAL PROPERTY _TROLLEY_POSTORDER "")
set_property(GLOBAL PROPERTY _TROLLEY_EXTERNAL "")
set_property(GLOBAL PROPERTY _TROLLEY_RAW "")
foreach(root IN LISTS _trolley_roots)
  _trolley_visit(${root})
endforeach()
get_property(TROLLEY_EXPORTED_TARGETS GLOBAL PROPERTY _TROLLEY_POSTORDER)
list(REVERSE TROLLEY_EXPORTED_TARGETS)
get_property(_trolley_external GLOBAL PROPERTY _TROLLEY_EXTERNAL)
get_property(_trolley_raw GLOBAL PROPERTY _TROLLEY_RAW)
list(REMOVE_DUPLICATES _trolley_external)
list(REMOVE_DUPLICATES _trolley_raw)

foreach(target IN LISTS TROLLEY_EXPORTED_TARGETS)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "STATIC_LIBRARY" AND NOT type STREQUAL "INTERFACE_LIBRARY")
    message(WARNING "TrolleyInstall: ${target} is a ${type}; the package expects static libraries")
  endif()
endforeach()

# ---- Sanitizer link flags a consumer of instrumented libraries needs
# (TrolleyTargets.cmake adds them project-wide with add_link_options).
get_directory_property(_trolley_link_options DIRECTORY "${PROJECT_SOURCE_DIR}" LINK_OPTIONS)
set(TROLLEY_CONSUMER_LINK_OPTIONS "")
foreach(opt IN LISTS _trolley_link_options)
  if(opt MATCHES "^-fsanitize")
    list(APPEND TROLLEY_CONSUMER_LINK_OPTIONS "${opt}")
  endif()
endforeach()

# ---- Target properties for the installed package.
foreach(target IN LISTS TROLLEY_EXPORTED_TARGETS)
  string(REGEX REPLACE "^trolley_" "" export_name "${target}")
  set_target_properties(${target} PROPERTIES EXPORT_NAME "${export_name}")
  # The headers use C++20 (<compare>, std::span, ...). The project already
  # builds everything as C++20, so this changes nothing in the build tree.
  target_compile_features(${target} INTERFACE cxx_std_20)
  foreach(opt IN LISTS TROLLEY_CONSUMER_LINK_OPTIONS)
    target_link_options(${target} INTERFACE "$<INSTALL_INTERFACE:${opt}>")
  endforeach()
endforeach()

# ---- Libraries and the export set. INCLUDES DESTINATION adds
# $<INSTALL_INTERFACE:include/trolley> to every exported target (the build
# tree keeps trolley_defaults' source and binary roots).
install(TARGETS ${TROLLEY_EXPORTED_TARGETS}
  EXPORT TrolleyTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
  INCLUDES DESTINATION "${TROLLEY_INSTALL_INCLUDEDIR}")
install(EXPORT TrolleyTargets
  NAMESPACE Trolley::
  FILE TrolleyTargets.cmake
  DESTINATION "${TROLLEY_INSTALL_CMAKEDIR}")

# ---- Headers (rules in the file comment).
set(_trolley_claimed "")  # headers paired with a source of any target
function(_trolley_all_targets dir out)
  get_directory_property(targets DIRECTORY "${dir}" BUILDSYSTEM_TARGETS)
  get_directory_property(subdirs DIRECTORY "${dir}" SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _trolley_all_targets("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} "${targets}" PARENT_SCOPE)
endfunction()
_trolley_all_targets("${PROJECT_SOURCE_DIR}" _trolley_every_target)

# The headers paired with the sources of `target` (absolute paths).
function(_trolley_paired_headers target out)
  get_target_property(sources ${target} SOURCES)
  get_target_property(source_dir ${target} SOURCE_DIR)
  set(headers "")
  foreach(src IN LISTS sources)
    if(NOT src MATCHES "\\.(cc|cpp|cxx)$" OR src MATCHES "\\$<")
      continue()
    endif()
    if(NOT IS_ABSOLUTE "${src}")
      set(src "${source_dir}/${src}")
    endif()
    string(REGEX REPLACE "\\.(cc|cpp|cxx)$" ".h" header "${src}")
    if(EXISTS "${header}" AND NOT header MATCHES "_capnp\\.h$")
      list(APPEND headers "${header}")
    endif()
  endforeach()
  set(${out} "${headers}" PARENT_SCOPE)
endfunction()

foreach(target IN LISTS _trolley_every_target)
  _trolley_paired_headers(${target} paired)
  list(APPEND _trolley_claimed ${paired})
endforeach()

set(_trolley_headers "")
set(_trolley_header_dirs "")
foreach(target IN LISTS TROLLEY_EXPORTED_TARGETS)
  _trolley_paired_headers(${target} paired)
  list(APPEND _trolley_headers ${paired})
  get_target_property(source_dir ${target} SOURCE_DIR)
  list(APPEND _trolley_header_dirs "${source_dir}")
endforeach()
list(REMOVE_DUPLICATES _trolley_header_dirs)
foreach(dir IN LISTS _trolley_header_dirs)
  file(GLOB candidates CONFIGURE_DEPENDS "${dir}/*.h")
  foreach(header IN LISTS candidates)
    if(header IN_LIST _trolley_claimed OR header MATCHES "(_internal|_capnp)\\.h$")
      continue()
    endif()
    list(APPEND _trolley_headers "${header}")
  endforeach()
endforeach()
list(REMOVE_DUPLICATES _trolley_headers)
list(SORT _trolley_headers)
foreach(header IN LISTS _trolley_headers)
  file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${header}")
  get_filename_component(rel_dir "${rel}" DIRECTORY)
  install(FILES "${header}" DESTINATION "${TROLLEY_INSTALL_INCLUDEDIR}/${rel_dir}")
endforeach()

# ---- What the imported targets the libraries link need in a consumer.
# For each: a block of TrolleyConfig.cmake and the pkg-config modules.
set(TROLLEY_CONFIG_DEPENDENCIES "")
set(TROLLEY_PC_REQUIRES "")
set(TROLLEY_PC_LIBS_EXTRA "")
set(_trolley_dep_capnp OFF)
set(_trolley_dep_pkgconfig "")
foreach(ext IN LISTS _trolley_external)
  if(ext MATCHES "^CapnProto::(.+)$")
    # CapnProto::capnp, ::kj, ::kj-async, ... are named like their .pc files.
    set(_trolley_dep_capnp ON)
    list(APPEND TROLLEY_PC_REQUIRES "${CMAKE_MATCH_1}")
  elseif(ext STREQUAL "PkgConfig::XXHASH")
    list(APPEND _trolley_dep_pkgconfig "XXHASH=libxxhash")
    list(APPEND TROLLEY_PC_REQUIRES libxxhash)
  elseif(ext STREQUAL "PkgConfig::LMDB")
    list(APPEND _trolley_dep_pkgconfig "LMDB=lmdb")
    list(APPEND TROLLEY_PC_REQUIRES lmdb)
  elseif(ext MATCHES "^spdlog::")
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(spdlog CONFIG)\n")
    list(APPEND TROLLEY_PC_REQUIRES spdlog)
  elseif(ext MATCHES "^fmt::")
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(fmt CONFIG)\n")
    list(APPEND TROLLEY_PC_REQUIRES fmt)
  elseif(ext MATCHES "^Boost::")
    # Header-only Boost in a public interface; no .pc file (headers in /usr/include).
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(Boost 1.74)\n")
  elseif(ext MATCHES "^OpenSSL::")
    # TLS (wire/asio/tls.h): Debian's libssl-dev ships FindOpenSSL's
    # libraries and openssl.pc.
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(OpenSSL)\n")
    list(APPEND TROLLEY_PC_REQUIRES openssl)
  elseif(ext STREQUAL "Threads::Threads")
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(Threads)\n")
    list(APPEND TROLLEY_PC_LIBS_EXTRA "-pthread")
  else()
    message(WARNING "TrolleyInstall: the installed libraries link ${ext}, which "
            "cmake/TrolleyInstall.cmake does not know how to find in a consumer; "
            "add it there (TrolleyConfig.cmake and trolley-client.pc), or link it "
            "as $<BUILD_INTERFACE:${ext}> if it is header-only and private.")
  endif()
endforeach()
if(_trolley_dep_capnp)
  string(PREPEND TROLLEY_CONFIG_DEPENDENCIES [=[
# CapnProto's config probes libatomic with check_library_exists(), which
# fails without a C compiler: enable C if the consumer did not.
if(NOT CMAKE_C_COMPILER_LOADED)
  enable_language(C)
endif()
find_dependency(CapnProto CONFIG)
]=])
endif()
if(_trolley_dep_pkgconfig)
  string(APPEND TROLLEY_CONFIG_DEPENDENCIES "find_dependency(PkgConfig)\n")
  foreach(dep IN LISTS _trolley_dep_pkgconfig)
    string(REPLACE "=" ";" dep "${dep}")
    list(GET dep 0 prefix)
    list(GET dep 1 module)
    string(APPEND TROLLEY_CONFIG_DEPENDENCIES "_trolley_pkg_config(${prefix} ${module})\n")
  endforeach()
endif()
foreach(item IN LISTS _trolley_raw)
  if(item MATCHES "^-")
    list(APPEND TROLLEY_PC_LIBS_EXTRA "${item}")
  else()
    list(APPEND TROLLEY_PC_LIBS_EXTRA "-l${item}")
  endif()
endforeach()

set(TROLLEY_EXPORTED_COMPONENTS "")
foreach(target IN LISTS TROLLEY_EXPORTED_TARGETS)
  get_target_property(export_name ${target} EXPORT_NAME)
  list(APPEND TROLLEY_EXPORTED_COMPONENTS ${export_name})
endforeach()
list(JOIN TROLLEY_EXPORTED_COMPONENTS " " TROLLEY_EXPORTED_COMPONENTS)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/TrolleyConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/package/TrolleyConfig.cmake"
  INSTALL_DESTINATION "${TROLLEY_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/package/TrolleyConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/package/TrolleyConfig.cmake"
  "${PROJECT_BINARY_DIR}/package/TrolleyConfigVersion.cmake"
  DESTINATION "${TROLLEY_INSTALL_CMAKEDIR}")

# ---- trolley-client.pc, relocatable: prefix is found from the .pc file's
# own location, so `cmake --install build --prefix <anywhere>` works.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TROLLEY_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(TROLLEY_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _trolley_up "/p/${TROLLEY_INSTALL_PKGCONFIGDIR}" "/p")
  string(REGEX REPLACE "/$" "" _trolley_up "${_trolley_up}")
  set(TROLLEY_PC_PREFIX "\${pcfiledir}/${_trolley_up}")
  set(TROLLEY_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${TROLLEY_INSTALL_INCLUDEDIR}")
  set(TROLLEY_PC_INCLUDEDIR "${TROLLEY_INSTALL_INCLUDEDIR}")
else()
  set(TROLLEY_PC_INCLUDEDIR "\${prefix}/${TROLLEY_INSTALL_INCLUDEDIR}")
endif()
set(TROLLEY_PC_LIBS "")
foreach(target IN LISTS TROLLEY_EXPORTED_TARGETS)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(output_name ${target} OUTPUT_NAME)
    if(NOT output_name)
      set(output_name ${target})
    endif()
    list(APPEND TROLLEY_PC_LIBS "-l${output_name}")
  endif()
endforeach()
list(APPEND TROLLEY_PC_LIBS ${TROLLEY_PC_LIBS_EXTRA} ${TROLLEY_CONSUMER_LINK_OPTIONS})
list(REMOVE_DUPLICATES TROLLEY_PC_REQUIRES)
list(JOIN TROLLEY_PC_LIBS " " TROLLEY_PC_LIBS)
list(JOIN TROLLEY_PC_REQUIRES " " TROLLEY_PC_REQUIRES)
configure_file("${PROJECT_SOURCE_DIR}/cmake/trolley-client.pc.in"
  "${PROJECT_BINARY_DIR}/package/trolley-client.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/package/trolley-client.pc"
  DESTINATION "${TROLLEY_INSTALL_PKGCONFIGDIR}")

# ---- The programs.
foreach(program trolleyd trolley)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  endif()
endforeach()
