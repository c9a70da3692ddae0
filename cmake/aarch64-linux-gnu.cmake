# Cross build for arm64 Linux with Debian's cross tool chain (g++-aarch64-linux-gnu) and the
# multiarch arm64 libraries (libboost-program-options-dev:arm64); tools/setup-deps installs both.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DKVMSIM_STATIC=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# With the library architecture set, packages and libraries are looked up in Debian's
# multiarch folders (/usr/lib/aarch64-linux-gnu, its cmake/ configs) and never in the
# host's; arch-independent headers (nlohmann_json, doctest) stay in /usr/include.

# Test programs built here run on arm64, or under qemu-aarch64 where it is installed.
find_program(KVMSIM_QEMU_AARCH64 qemu-aarch64)
if(KVMSIM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KVMSIM_QEMU_AARCH64})
endif()
