# readme_ci_sync: README.md's test command must appear verbatim as a line of .ci/run, so what CI
# runs is what the README tells people to run. (Included from tests/CMakeLists.txt.)
add_test(NAME readme_ci_sync
  COMMAND ${CMAKE_COMMAND} -DSADANET_ROOT=${PROJECT_SOURCE_DIR} -P ${CMAKE_CURRENT_LIST_DIR}/readme_ci_sync.cmake)
set_tests_properties(readme_ci_sync PROPERTIES LABELS cpu)
