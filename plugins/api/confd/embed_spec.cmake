# Writes the OpenAPI file as a C++ string constant (cmake -P).
file(READ ${IN} _text)
file(WRITE ${OUT} "namespace dialtone::plugins::api::confd {\nextern const char* const kApiSpec;\nconst char* const kApiSpec = R\"DTSPEC(${_text})DTSPEC\";\n}\n")
