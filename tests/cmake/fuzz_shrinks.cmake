# cmake -DKVMSIM=... -DOUT=dir -DREVERT=patch -DMAX_STEPS=N -P fuzz_shrinks.cmake
# Differential fuzzing of the model against the model with one patch reverted must find a
# disagreement (exit 1) and shrink it to a scenario of at most MAX_STEPS steps, which in turn
# runs under `kvmsim run` with the reverted patch and holds there (its expectations are that
# side's outcomes) while failing on plain mainline.
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${KVMSIM} fuzz --against model --revert ${REVERT} --seed 1 --count 300 --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "1")
  message(FATAL_ERROR "kvmsim fuzz exited ${rc}, expected 1 (a disagreement found)")
endif()
file(GLOB found ${OUT}/disagreement-seed-*.json)
list(LENGTH found n)
if(n EQUAL 0)
  message(FATAL_ERROR "no shrunk scenario written to ${OUT}")
endif()
list(GET found 0 first)
file(READ ${first} doc)
string(JSON steps LENGTH "${doc}" steps)
if(steps GREATER ${MAX_STEPS})
  message(FATAL_ERROR "${first}: shrunk to ${steps} steps, expected at most ${MAX_STEPS}")
endif()
execute_process(COMMAND ${KVMSIM} run --revert ${REVERT} ${first} RESULT_VARIABLE rc_rev OUTPUT_QUIET)
execute_process(COMMAND ${KVMSIM} run ${first} RESULT_VARIABLE rc_main OUTPUT_QUIET)
if(NOT rc_rev STREQUAL "0" OR NOT rc_main STREQUAL "1")
  message(FATAL_ERROR "${first}: kvmsim run --revert ${REVERT} exited ${rc_rev} (expected 0), plain run exited ${rc_main} (expected 1)")
endif()
message("${first}: ${steps} steps")
