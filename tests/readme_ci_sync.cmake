# cmake -DSADANET_ROOT=<repo> -P readme_ci_sync.cmake
# The README's test command is its one line that starts with "cmake -S . -B build" and runs
# ctest; it must be, character for character, a line of .ci/run. The packages the README's
# setup line installs must also be in .ci/run's list.
file(STRINGS ${SADANET_ROOT}/README.md readme_lines)
file(STRINGS ${SADANET_ROOT}/.ci/run ci_lines)
file(READ ${SADANET_ROOT}/.ci/run ci_text)
string(REGEX REPLACE "[()\n]" " " ci_words " ${ci_text} ")  # package names end up between spaces

set(test_lines "")
foreach(line IN LISTS readme_lines)
  if(line MATCHES "^cmake -S \\. -B build " AND line MATCHES "ctest ")
    list(APPEND test_lines "${line}")
  endif()
  if(line MATCHES "apt-get install -y ([^&]*)&&")
    string(REGEX MATCHALL "[^ ]+" pkgs "${CMAKE_MATCH_1}")
    foreach(pkg IN LISTS pkgs)
      string(FIND "${ci_words}" " ${pkg} " at)
      if(at EQUAL -1)
        message(FATAL_ERROR "readme_ci_sync: README.md installs ${pkg} but .ci/run does not")
      endif()
    endforeach()
  endif()
endforeach()

list(LENGTH test_lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "readme_ci_sync: expected exactly one test command line in README.md "
                      "(starting 'cmake -S . -B build' and running ctest), found ${n}: ${test_lines}")
endif()
list(GET test_lines 0 want)
foreach(line IN LISTS ci_lines)
  if(line STREQUAL want)
    message(STATUS "readme_ci_sync: .ci/run runs README.md's test command")
    return()
  endif()
endforeach()
message(FATAL_ERROR "readme_ci_sync: .ci/run does not contain README.md's test command verbatim:\n  ${want}\n"
                    "Copy the README line into .ci/run (or change both).")
