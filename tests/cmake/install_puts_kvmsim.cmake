# cmake -DBUILD=build-dir -DPREFIX=dir -P install_puts_kvmsim.cmake
# `cmake --install` with a prefix puts a working kvmsim in PREFIX/bin.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "cmake --install failed (${rc}): ${out}${err}")
endif()
execute_process(COMMAND ${PREFIX}/bin/kvmsim --version RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc STREQUAL "0" OR NOT out MATCHES "^kvmsim ")
  message(FATAL_ERROR "${PREFIX}/bin/kvmsim --version: exit ${rc}, output '${out}'")
endif()
message("installed: ${PREFIX}/bin/kvmsim: ${out}")
