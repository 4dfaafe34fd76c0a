# Build time (docs/decisions.md, "Build time: precompiled headers, lighter
# debug info in tests"). Included by the top-level CMakeLists.txt before the
# folders; ledger_precompile_headers() runs after them, when every target
# and the libraries it links are known.

# Precompiled headers: the external headers (standard library, Abseil,
# GoogleTest, the generated protobuf/gRPC code, RocksDB, nlohmann/json,
# spdlog) that most of our sources include are parsed once per target
# instead of once per source. Only an acceleration: every source still
# includes what it uses (LEDGER_PCH=OFF builds without them).
#
# On by default with Clang only. GCC 12 (Debian 12's) does not keep
# `#pragma GCC diagnostic` in a precompiled header, and libstdc++ silences
# its known false -Warray-bounds reports about std::string with such
# pragmas (bits/char_traits.h): with a precompiled header they come back in
# our code and -Werror fails (crypto/note_test.cc, for one). A GCC build
# can still turn it on (-DLEDGER_PCH=ON) when it does not use -Werror.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(ledger_pch_default ON)
else()
  set(ledger_pch_default OFF)
endif()
option(LEDGER_PCH "Precompile the external headers most sources include"
       ${ledger_pch_default})

# Targets with fewer sources than this use the precompiled header of a
# bigger target built with the same compiler flags, or none.
set(LEDGER_PCH_MIN_SOURCES 3)

# RelWithDebInfo: the test binaries (and only they) get this debug level
# instead of -g. Full -g at -O2 spends a third of a test source's compile
# time on variable locations; -g1 keeps functions and line numbers, so
# backtraces and failures still point at the line. Empty: full -g.
set(LEDGER_TEST_DEBUG_FLAGS -g1 CACHE STRING
    "Debug-info flags for test binaries in RelWithDebInfo builds (empty: -g)")

# ccache caches what is compiled with a precompiled header only with these
# sloppiness settings, and with Clang only when the header is made without
# a timestamp (its manual, "Precompiled headers"). The newly made header
# would also turn its direct mode off without the mtime/ctime ones.
if(LEDGER_PCH AND CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache")
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      ${CMAKE_CXX_COMPILER_LAUNCHER})
endif()
if(LEDGER_PCH AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND CMAKE_CXX_COMPILE_OPTIONS_CREATE_PCH -Xclang -fno-pch-timestamp)
endif()

set(LEDGER_PCH_STD
  <algorithm> <array> <atomic> <chrono> <cstdint> <filesystem> <fstream>
  <functional> <map> <memory> <mutex> <optional> <set> <sstream> <string>
  <string_view> <thread> <utility> <vector>)
# Angle brackets: target_precompile_headers takes a bare name for a file
# relative to the folder.
set(LEDGER_PCH_ABSL
  <absl/container/flat_hash_map.h> <absl/status/status.h>
  <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/str_format.h> <absl/synchronization/mutex.h>
  <absl/time/time.h> <absl/types/span.h>)
# Per library linked (directly or through our libraries): its headers.
set(LEDGER_PCH_FOR_GTest::gtest <gmock/gmock.h> <gtest/gtest.h>)
set(LEDGER_PCH_FOR_ledger_proto
  <ledger/v1/admin.grpc.pb.h> <ledger/v1/event.pb.h>
  <ledger/v1/ingest.grpc.pb.h> <ledger/v1/proof.grpc.pb.h>
  <ledger/v1/query.grpc.pb.h>)
set(LEDGER_PCH_FOR_RocksDB::rocksdb <rocksdb/db.h>)
set(LEDGER_PCH_FOR_nlohmann_json::nlohmann_json <nlohmann/json.hpp>)
set(LEDGER_PCH_FOR_spdlog::spdlog <spdlog/spdlog.h>)

# `target` and every library it links, directly or not.
function(ledger_link_closure target out)
  set(seen)
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue item)
    if(item IN_LIST seen OR NOT TARGET ${item})
      continue()
    endif()
    list(APPEND seen ${item})
    get_target_property(imported ${item} IMPORTED)
    set(links)
    if(NOT imported)
      get_target_property(links ${item} LINK_LIBRARIES)
    endif()
    get_target_property(interface_links ${item} INTERFACE_LINK_LIBRARIES)
    foreach(link IN LISTS links interface_links)
      if(link AND NOT link MATCHES "-NOTFOUND$")
        list(APPEND queue ${link})
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# Precompiled headers for our C++ libraries and executables (`targets`).
# A target with LEDGER_PCH_MIN_SOURCES sources or more gets its own; a
# smaller one reuses that of the first such target with the same headers
# and compile flags (GCC and Clang refuse a precompiled header built with
# other flags), or has none.
function(ledger_precompile_headers targets)
  if(NOT LEDGER_PCH)
    return()
  endif()
  set(owners)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    get_target_property(imported ${target} IMPORTED)
    if(imported OR NOT type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$")
      continue()
    endif()
    get_target_property(sources ${target} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.cc$")
    list(LENGTH sources count)
    if(count EQUAL 0)
      continue()
    endif()
    ledger_link_closure(${target} closure)
    set(headers ${LEDGER_PCH_STD} ${LEDGER_PCH_ABSL})
    foreach(lib IN LISTS closure)
      list(APPEND headers ${LEDGER_PCH_FOR_${lib}})
    endforeach()
    list(REMOVE_DUPLICATES headers)
    # What makes two targets' precompiled headers interchangeable: the same
    # headers and the same flags, that is the target's own options and
    # definitions and the usage requirements of what it links. Our own
    # LEDGER_* definitions (paths, versions) are left out: no precompiled
    # header refers to them, and GCC and Clang accept a precompiled header
    # with extra command-line macros it does not use.
    get_target_property(options ${target} COMPILE_OPTIONS)
    get_target_property(definitions ${target} COMPILE_DEFINITIONS)
    if(definitions)
      list(FILTER definitions EXCLUDE REGEX "^LEDGER_")
    endif()
    set(key)
    foreach(lib IN LISTS closure)
      foreach(property INTERFACE_COMPILE_DEFINITIONS INTERFACE_COMPILE_OPTIONS
                       INTERFACE_COMPILE_FEATURES)
        get_target_property(value ${lib} ${property})
        if(value)
          list(APPEND key "${property}=${value}")
        endif()
      endforeach()
    endforeach()
    list(REMOVE_DUPLICATES key)
    list(SORT key)
    string(APPEND key ";options=${options};definitions=${definitions}")
    string(APPEND key ";headers=${headers}")
    string(SHA1 key "${key}")
    if(count GREATER_EQUAL LEDGER_PCH_MIN_SOURCES)
      target_precompile_headers(${target} PRIVATE ${headers})
      if(NOT DEFINED owner_${key})
        set(owner_${key} ${target})
      endif()
    else()
      list(APPEND small ${target})
      set(small_key_${target} ${key})
    endif()
  endforeach()
  foreach(target IN LISTS small)
    set(key ${small_key_${target}})
    if(DEFINED owner_${key})
      target_precompile_headers(${target} REUSE_FROM ${owner_${key}})
    endif()
  endforeach()
endfunction()
