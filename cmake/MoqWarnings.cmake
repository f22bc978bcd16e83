# Compiler flags shared by every target of the project.
add_library(moq_flags INTERFACE)
target_compile_options(moq_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wconversion -Wno-sign-conversion -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports Asio's recycled coroutine frames (its own operator
  # new/delete pair, inlined at -O2) as mismatched allocations: a known false
  # positive.
  target_compile_options(moq_flags INTERFACE -Wno-mismatched-new-delete)
endif()
if(MOQ_WERROR)
  target_compile_options(moq_flags INTERFACE -Werror)
endif()

if(MOQ_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Helper: a library for one layer, named moq_<layer>, with src/ as include root.
function(moq_layer layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(moq_${layer} STATIC ${ARG_SOURCES})
  target_include_directories(moq_${layer} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(moq_${layer} PUBLIC ${ARG_DEPS} PRIVATE moq_flags)
endfunction()

# Fuzzing build: every library gets coverage instrumentation and sanitizers;
# fuzz/CMakeLists.txt links the targets with libFuzzer's main.
if(MOQ_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MOQ_FUZZ needs clang (CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
