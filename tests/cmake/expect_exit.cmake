# cmake -DKVMSIM=... -DSCENARIO=... -DEXPECTED=N -P expect_exit.cmake
# Runs `kvmsim run SCENARIO` and fails unless it exits with exactly EXPECTED.
execute_process(COMMAND ${KVMSIM} run ${SCENARIO} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${EXPECTED}")
  message(FATAL_ERROR "kvmsim run ${SCENARIO} exited ${rc}, expected ${EXPECTED}")
endif()
