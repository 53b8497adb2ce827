# dialtone_add_plugin(<target> SOURCES ... [LIBS ...]): a plugin shared object
# named <target>.so, exporting only its manifest and entry point.
#  - DIALTONE_PLUGIN_OUTPUT_DIR (optional): folder the .so is built into.
#  - DIALTONE_PLUGIN_INSTALL_DIR (optional): `cmake --install` copies it there.
# Used in-tree and, installed with the SDK, by out-of-tree plugins through
# find_package(Dialtone).
function(dialtone_add_plugin target)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT P_SOURCES)
    message(FATAL_ERROR "dialtone_add_plugin(${target}): no SOURCES given")
  endif()
  add_library(${target} MODULE ${P_SOURCES})
  target_link_libraries(${target} PRIVATE Dialtone::sdk ${P_LIBS})
  set_target_properties(${target} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DIALTONE_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${DIALTONE_PLUGIN_OUTPUT_DIR})
  endif()
  if(DIALTONE_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${DIALTONE_PLUGIN_INSTALL_DIR} COMPONENT plugins)
  endif()
endfunction()
