# cmake -DBUILD_DIR= -DEXAMPLE_DIR= -DWORK_DIR= -DPROBE= -DCXX= [-DBUILD_TYPE=] -P installed_sdk_test.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 600)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

if(NOT BUILD_TYPE)
  set(BUILD_TYPE RelWithDebInfo)
endif()
set(prefix ${WORK_DIR}/prefix)
set(example_build ${WORK_DIR}/hello-build)
file(REMOVE_RECURSE ${WORK_DIR})

# (a) the SDK as a user gets it: only the `sdk` install component.
run(${CMAKE_COMMAND} --build ${BUILD_DIR} --target dialtone_sdk_testing)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component sdk)
foreach(f include/dialtone/plugin.h include/dialtone/testing/fake_host.h)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "installed SDK lacks ${f}")
  endif()
endforeach()

# (b) the example, configured against the installed prefix only.
run(${CMAKE_COMMAND} -S ${EXAMPLE_DIR} -B ${example_build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX})
run(${CMAKE_COMMAND} --build ${example_build} -j2)

# (c) its unit test.
run(${CMAKE_CTEST_COMMAND} --test-dir ${example_build} --output-on-failure)
message(STATUS "${last_output}")

# The plugin exports its manifest and carries the right id.
set(so ${example_build}/example_hello.so)
if(NOT EXISTS ${so})
  message(FATAL_ERROR "plugin was not built: ${so}")
endif()
run(nm -D --defined-only ${so})
if(NOT last_output MATCHES "dialtone_plugin_manifest_v1" OR NOT last_output MATCHES "dialtone_plugin_entry_v1")
  message(FATAL_ERROR "example_hello.so does not export its manifest and entry:\n${last_output}")
endif()
run(${PROBE} ${so})
if(NOT last_output MATCHES "id=example.hello\n")
  message(FATAL_ERROR "unexpected manifest: ${last_output}")
endif()
message(STATUS "manifest: ${last_output}")

# (d) the provisioning vendor example and its phone view, against the same
# installed SDK.
if(VENDOR_EXAMPLE_DIR)
  set(vendor_build ${WORK_DIR}/vendor-build)
  run(${CMAKE_COMMAND} -S ${VENDOR_EXAMPLE_DIR} -B ${vendor_build}
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX})
  run(${CMAKE_COMMAND} --build ${vendor_build} -j2)
  run(${CMAKE_CTEST_COMMAND} --test-dir ${vendor_build} --output-on-failure)
  message(STATUS "${last_output}")
  run(${PROBE} ${vendor_build}/provisioning_acme.so)
  if(NOT last_output MATCHES "id=provisioning.acme\n")
    message(FATAL_ERROR "unexpected vendor manifest: ${last_output}")
  endif()
  run(${PROBE} ${vendor_build}/view_acme.so)
  if(NOT last_output MATCHES "id=view.acme\n")
    message(FATAL_ERROR "unexpected view manifest: ${last_output}")
  endif()
endif()
