# SPDX-License-Identifier: Apache-2.0
# discover_tests.cmake - run by a test binary's POST_BUILD step (see
# ims_split_test in tests/CMakeLists.txt), in script mode:
#
#   cmake -D EXE=<binary> -D RULES=<name>_rules.cmake
#         -D OUT=<name>_tests.cmake -P discover_tests.cmake
#
# It asks the binary for its cases (`EXE --list`, one a line: test.h),
# hands each case to the first split rule whose CASES regex matches it,
# and writes OUT: the add_test() and set_tests_properties() calls CTest
# reads through the directory's TEST_INCLUDE_FILES (the idiom of CMake's
# gtest_discover_tests). The cases no rule takes run together as one test
# named after the binary; a rule with AS runs its cases as one test of
# that name; a rule without AS makes one test per case, named after it.
#
# RULES (written by ims__register_tests at generate time, so generator
# expressions in the environment are already expanded) sets:
#   ims_name, ims_workdir, ims_env, ims_props   the binary's own test
#   ims_rules                                   rule indexes, in order
#   ims_rule<i>_as, _cases, _env, _props        one rule
# *_env are ;-lists of VAR=value, *_props flat property/value lists.
#
# Fails (and so fails the build) if the binary cannot list its cases, a
# rule takes no case (a renamed case would otherwise drop its test
# silently), or two tests would get the same name. OUT is removed first:
# after a failure CTest shows <name>_NOT_BUILT instead of stale tests.
cmake_minimum_required(VERSION 3.18)

foreach(v EXE RULES OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "discover_tests.cmake: -D ${v}=... is missing")
  endif()
endforeach()
file(REMOVE "${OUT}")
include("${RULES}")

execute_process(COMMAND "${EXE}" --list
                OUTPUT_VARIABLE listed ERROR_VARIABLE listed_err
                RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --list: ${rc}\n${listed_err}")
endif()
string(REGEX MATCHALL "[^\n]+" cases "${listed}")
if(NOT cases)
  message(FATAL_ERROR "${EXE} --list printed no case")
endif()

# Each case to the first rule that matches it, else to the binary's test.
set(rest)
foreach(r IN LISTS ims_rules)
  set(taken_${r})
endforeach()
foreach(c IN LISTS cases)
  set(owner)
  foreach(r IN LISTS ims_rules)
    if(c MATCHES "${ims_rule${r}_cases}")
      set(owner ${r})
      break()
    endif()
  endforeach()
  if("${owner}" STREQUAL "")
    list(APPEND rest ${c})
  else()
    list(APPEND taken_${owner} ${c})
  endif()
endforeach()

# Bracket arguments keep every character as it is, ';' included.
function(ims__quote out value)
  set(${out} "[==[${value}]==]" PARENT_SCOPE)
endfunction()

set(text "# Generated from `${EXE} --list` by ${CMAKE_CURRENT_LIST_FILE}\n")
set(names)
# Append to `text` one CTest test `test` running the cases `run`, with
# environment `env` and properties `props` (the binary's, then the
# rule's: a later value wins).
function(ims__emit test run env props)
  if("${test}" IN_LIST names)
    message(FATAL_ERROR "${EXE}: two tests named ${test}")
  endif()
  ims__quote(qt "${test}")
  ims__quote(qexe "${EXE}")
  set(line "add_test(${qt} ${qexe}")
  foreach(c IN LISTS run)
    string(APPEND line " ${c}")
  endforeach()
  ims__quote(qenv "${env}")
  ims__quote(qdir "${ims_workdir}")
  string(APPEND line ")\nset_tests_properties(${qt} PROPERTIES\n"
         "  ENVIRONMENT ${qenv}\n  WORKING_DIRECTORY ${qdir}")
  set(kv ${props})
  list(LENGTH kv n)
  while(n GREATER 1)
    list(POP_FRONT kv key value)
    ims__quote(qv "${value}")
    string(APPEND line "\n  ${key} ${qv}")
    math(EXPR n "${n} - 2")
  endwhile()
  set(text "${text}${line})\n" PARENT_SCOPE)
  set(names ${names} ${test} PARENT_SCOPE)
endfunction()

if(rest)
  ims__emit(${ims_name} "${rest}" "${ims_env}" "${ims_props}")
endif()
foreach(r IN LISTS ims_rules)
  if(NOT taken_${r})
    message(FATAL_ERROR "${EXE}: no case matches the split rule CASES "
                        "\"${ims_rule${r}_cases}\" (cases: ${cases})")
  endif()
  set(env ${ims_env} ${ims_rule${r}_env})
  set(props ${ims_props} ${ims_rule${r}_props})
  if(NOT "${ims_rule${r}_as}" STREQUAL "")
    ims__emit(${ims_rule${r}_as} "${taken_${r}}" "${env}" "${props}")
  else()
    foreach(c IN LISTS taken_${r})
      ims__emit(${c} "${c}" "${env}" "${props}")
    endforeach()
  endif()
endforeach()

file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
