# A static library plugin authors link from the installed SDK as
# Dialtone::<EXPORT_NAME> (the template engine, the provisioning vendor
# engine, the phone view engine):
#
#   dialtone_add_sdk_library(<target> EXPORT_NAME <name> SOURCES ...
#                            HEADERS include/dialtone/... [LIBS ...])
#
# Hidden visibility and position-independent code (it is linked into plugin
# shared objects); its include/ folder is public, and the HEADERS (paths
# under include/) are installed with the `sdk` component beside the library.
function(dialtone_add_sdk_library target)
  cmake_parse_arguments(L "" "EXPORT_NAME" "SOURCES;HEADERS;LIBS" ${ARGN})
  add_library(${target} STATIC ${L_SOURCES})
  add_library(Dialtone::${L_EXPORT_NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON POSITION_INDEPENDENT_CODE ON EXPORT_NAME ${L_EXPORT_NAME})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${L_LIBS})
  foreach(header ${L_HEADERS})
    get_filename_component(dir ${header} DIRECTORY)
    string(REGEX REPLACE "^include/?" "" dir "${dir}")
    install(FILES ${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir} COMPONENT sdk)
  endforeach()
  install(TARGETS ${target} EXPORT DialtoneTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
endfunction()
