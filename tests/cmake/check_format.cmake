# cmake -DKVMSIM=... -DPYTHON=... -DCHECKER=... -DFORMAT=ktap|junit -DPATHS=... -DOUT=file -P check_format.cmake
# Runs `kvmsim run --format FORMAT PATHS`, keeps the output in OUT, and fails unless the run
# exits 0 and the checker accepts the output.
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
execute_process(COMMAND ${KVMSIM} run --format ${FORMAT} ${PATHS} RESULT_VARIABLE rc OUTPUT_FILE ${OUT} ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "kvmsim run --format ${FORMAT} exited ${rc}: ${err}")
endif()
execute_process(COMMAND ${PYTHON} ${CHECKER} ${OUT} RESULT_VARIABLE crc OUTPUT_VARIABLE cout)
message("${cout}")
if(NOT crc STREQUAL "0")
  message(FATAL_ERROR "${CHECKER} rejected ${OUT}")
endif()
