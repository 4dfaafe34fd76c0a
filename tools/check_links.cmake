# Fails unless the binary BINARY links neither gRPC, protobuf nor RocksDB,
# neither as a shared library (ldd) nor statically (symbols, nm).
#   cmake -DBINARY=path/to/ledger-verify -P check_links.cmake
if(NOT BINARY OR NOT EXISTS "${BINARY}")
  message(FATAL_ERROR "BINARY not set or missing: '${BINARY}'")
endif()

set(forbidden_libs "grpc|protobuf|rocksdb")
execute_process(COMMAND ldd "${BINARY}" OUTPUT_VARIABLE ldd_out
                RESULT_VARIABLE ldd_rc)
if(NOT ldd_rc EQUAL 0)
  message(FATAL_ERROR "ldd ${BINARY} failed (${ldd_rc})")
endif()
string(REGEX MATCHALL "[^\n]*(${forbidden_libs})[^\n]*" bad_libs "${ldd_out}")
if(bad_libs)
  message(FATAL_ERROR "${BINARY} links forbidden libraries:\n${bad_libs}")
endif()

execute_process(COMMAND nm -C "${BINARY}" OUTPUT_VARIABLE nm_out
                RESULT_VARIABLE nm_rc)
if(NOT nm_rc EQUAL 0)
  message(FATAL_ERROR "nm ${BINARY} failed (${nm_rc})")
endif()
string(REGEX MATCH "[^\n]*(google::protobuf::|grpc_|grpc::|rocksdb::)[^\n]*"
       bad_symbol "${nm_out}")
if(bad_symbol)
  message(FATAL_ERROR "${BINARY} contains a forbidden symbol: ${bad_symbol}")
endif()
message(STATUS "${BINARY}: no gRPC, protobuf or RocksDB")
