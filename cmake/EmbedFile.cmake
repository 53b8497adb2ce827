# Compiles a text file (an OpenAPI spec) into a target as a C++ string constant.
#
#   dialtone_embed_file(<target> <file> <namespace> <symbol>)
#
# defines `const char* const <namespace>::<symbol>` holding the file's text,
# regenerated whenever the file changes. Declare it where it is used:
#   namespace <namespace> { extern const char* const <symbol>; }
#
# The same file is the generator when run as `cmake -P` (IN, OUT, NAMESPACE, SYMBOL).
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ ${IN} _text)
  file(WRITE ${OUT} "namespace ${NAMESPACE} {\nextern const char* const ${SYMBOL};\n"
                    "const char* const ${SYMBOL} = R\"DTSPEC(${_text})DTSPEC\";\n}\n")
  return()
endif()

set(DIALTONE_EMBED_FILE_SCRIPT ${CMAKE_CURRENT_LIST_FILE} CACHE INTERNAL "")

function(dialtone_embed_file target file namespace symbol)
  get_filename_component(_in ${file} ABSOLUTE)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/${target}_${symbol}.cc)
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -DIN=${_in} -DOUT=${_out} -DNAMESPACE=${namespace} -DSYMBOL=${symbol}
            -P ${DIALTONE_EMBED_FILE_SCRIPT}
    DEPENDS ${_in} ${DIALTONE_EMBED_FILE_SCRIPT}
    COMMENT "Embedding ${file}")
  target_sources(${target} PRIVATE ${_out})
endfunction()
