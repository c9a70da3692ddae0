# cmake -DTESTS=kvmsim_tests -DSUITES="a;b" -P check_suites.cmake
# Fails if some test case is in none of the suites CTest runs.
string(REPLACE ";" "," excluded "${SUITES}")
execute_process(COMMAND ${TESTS} --list-test-cases --no-version "--test-suite-exclude=${excluded}" RESULT_VARIABLE rc OUTPUT_VARIABLE out)
string(REGEX MATCH "\\[doctest\\] unskipped test cases passing the current filters: ([0-9]+)" m "${out}")
if(NOT rc EQUAL 0 OR NOT CMAKE_MATCH_1 STREQUAL "0")
  message(FATAL_ERROR "test cases outside the CTest suites:\n${out}")
endif()
