# bench_compare_smoke: runnel_compare's runnel and raw rows at tiny sizes, then report.py
# on its output. Asserts that the run succeeds and the report has its tables; no timing.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(
  COMMAND ${COMPARE} --systems runnel,raw --repetitions 1 --seconds 0.05 --consume-records 2000
          --latency-seconds 0.05 --recovery-mib 4 --out ${WORK}/results.json
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "runnel_compare failed (${rc}):\n${out}\n${err}")
endif()
file(READ ${WORK}/results.json json)
foreach(needle "\"system\": \"runnel\"" "\"system\": \"raw write/read\"" "\"after_kill_seconds\"" "\"errors\": []")
  string(FIND "${json}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "results.json lacks ${needle}:\n${json}")
  endif()
endforeach()
execute_process(COMMAND ${PYTHON} ${REPORT} ${WORK}/results.json ${WORK} --no-charts RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "report.py failed (${rc})")
endif()
file(READ ${WORK}/README.md md)
foreach(needle "## Produce, no fsync" "| 100 B, 1 thr, 1 part | runnel |" "## Recovery" "end-to-end p99")
  string(FIND "${md}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the report lacks ${needle}:\n${md}")
  endif()
endforeach()
