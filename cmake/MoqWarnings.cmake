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
# Asio 1.22 decides between aligned_alloc/free and operator new/delete for
# its handler memory from a libstdc++ macro that a translation unit may not
# have seen yet when it includes Asio first; two such units link into a
# new/free mismatch (ASan: alloc-dealloc-mismatch). One choice everywhere.
add_compile_definitions(ASIO_DISABLE_STD_ALIGNED_ALLOC)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Asio 1.22 looks for <experimental/coroutine> under clang; clang 16 with
  # libstdc++ 12 has the standard <coroutine>, which Asio uses once told.
  add_compile_definitions(ASIO_HAS_CO_AWAIT=1)
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
