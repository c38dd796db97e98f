# nlohmann-json (header-only): the system's CMake package first; otherwise
# the headers of the PyPI package `nlohmann_json` (a build requirement of
# `pip install .`, so a machine without the system package still builds).
# No download from anywhere else.
find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  if(NOT Python_EXECUTABLE)
    find_package(Python 3.9 COMPONENTS Interpreter)
  endif()
  if(Python_EXECUTABLE)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c
              "import nlohmann_json, os; print(os.path.join(os.path.dirname(nlohmann_json.__file__), 'include'))"
      OUTPUT_VARIABLE LPLB_NLOHMANN_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE LPLB_NLOHMANN_RC ERROR_QUIET)
  endif()
  if(NOT LPLB_NLOHMANN_RC EQUAL 0 OR NOT EXISTS "${LPLB_NLOHMANN_INCLUDE}/nlohmann/json.hpp")
    message(FATAL_ERROR
      "nlohmann-json not found: install the system package (apt install nlohmann-json3-dev) "
      "or the Python package (pip install nlohmann_json), or set nlohmann_json_DIR")
  endif()
  message(STATUS "nlohmann-json: headers of the Python package nlohmann_json (${LPLB_NLOHMANN_INCLUDE})")
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED GLOBAL)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE "${LPLB_NLOHMANN_INCLUDE}")
endif()
