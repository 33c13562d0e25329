# SPDX-License-Identifier: Apache-2.0
# install.cmake - what `cmake --install` puts where (GNUInstallDirs), for
# a prefix chosen at install time: `cmake --install build --prefix ANY`
# works without rebuilding, and the tree can be moved afterwards.
#
#   bin/imgstream                          RPATH $ORIGIN/../<libdir>
#   <libdir>/libimgstream.so.0.1.0, .so.0, .so, libimgstream.a
#   include/imgstream/*.h                  the public headers
#   <libdir>/pkgconfig/imgstream.pc        paths from ${pcfiledir}
#   <libdir>/cmake/imgstream/              find_package(imgstream)
#   share/imgstream/models/                the default model, its labels
#                                          and their licence, copied from
#                                          IMS_SHARED_DIR (../shared)
#   share/imgstream/examples/              config files for the units
#                                          (Runtime), the example programs
#                                          (examples/; Development)
#   lib/systemd/system/imgstream-*@.service  the units (ExecStart: this
#                                          prefix's bin/imgstream)
#   share/man/man1/imgstream*.1.gz         manual pages (cmake/man.cmake)
#   share/bash-completion/completions/imgstream
#
# Nothing here is relative to the source tree at run time: the tool
# finds the models from its own location (src/cli/locate.c), the .pc
# and CMake files find the prefix from their own.
#
# Components (one Debian package each, cmake/package.cmake): Runtime (the
# tool, the models), Library (the shared library) and Development
# (headers, the static library, the .so link, .pc, CMake).

install(TARGETS imgstream_tool
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)
install(TARGETS imgstream_shared
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Library
                NAMELINK_COMPONENT Development)
install(TARGETS imgstream
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/imgstream
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development
        FILES_MATCHING PATTERN "*.h")

# The default model (README "Where the model comes from"), used in place
# from ../shared and copied only here, at install time.
set(ims_model_files
  ${IMS_SHARED_DIR}/models/mobilenet_v2_1.0_224_quant.tflite
  ${IMS_SHARED_DIR}/models/imagenet_class_index.json
  ${IMS_SHARED_DIR}/models/LICENSE-coral-test-data)
foreach(f ${ims_model_files})
  if(NOT EXISTS ${f})
    message(WARNING "${f} is missing: `cmake --install` will fail "
                    "(set IMS_SHARED_DIR to the folder of models/)")
  endif()
endforeach()
install(FILES ${ims_model_files}
        DESTINATION ${CMAKE_INSTALL_DATADIR}/imgstream/models
        COMPONENT Runtime)

# The libraries a static link needs, as names (-lNAME), for the .pc's
# Libs.private and the CMake package's imgstream::imgstream_static.
set(ims_static_libs)
foreach(lib ${XNNPACK_LIBRARY} ${PTHREADPOOL_LIBRARY} ${DNNL_LIBRARY}
            ${GOMP_LIBRARY})
  get_filename_component(name ${lib} NAME)
  string(REGEX REPLACE "^lib([^.]+)\\..*$" "\\1" name ${name})
  list(APPEND ims_static_libs ${name})
endforeach()
list(APPEND ims_static_libs pthread m)
# Libs.private names the libraries libimgstream.a calls itself, not a
# Requires.private: pkg-config --static would then add those libraries'
# own private ones (libcurl's), whose -dev packages are not installed.
set(ims_pc_libs)
foreach(v JPEG SPNG JANSSON CURL LIBARCHIVE NATS LIBXML2 LIBCRYPTO OPENBLAS
          LAPACKE ZLIB MHD)
  list(APPEND ims_pc_libs ${${v}_LDFLAGS})
endforeach()
list(TRANSFORM ims_static_libs PREPEND "-l" OUTPUT_VARIABLE ims_pc_extra)
list(APPEND ims_pc_libs ${ims_pc_extra})
list(REMOVE_DUPLICATES ims_pc_libs)
string(REPLACE ";" " " ims_pc_libs_private "${ims_pc_libs}")
set(ims_cmake_static_libs)
foreach(v JPEG SPNG JANSSON CURL LIBARCHIVE NATS LIBXML2 LIBCRYPTO OPENBLAS
          LAPACKE ZLIB MHD)
  list(APPEND ims_cmake_static_libs ${${v}_LINK_LIBRARIES})
endforeach()
list(APPEND ims_cmake_static_libs ${ims_static_libs})

# Paths from the installed .pc and CMake files back to the prefix.
set(ims_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(ims_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/imgstream)
file(RELATIVE_PATH ims_pc_to_prefix /prefix/${ims_pc_dir} /prefix)
file(RELATIVE_PATH ims_cmake_to_prefix /prefix/${ims_cmake_dir} /prefix)
string(REGEX REPLACE "/$" "" ims_pc_to_prefix "${ims_pc_to_prefix}")
string(REGEX REPLACE "/$" "" ims_cmake_to_prefix "${ims_cmake_to_prefix}")

configure_file(${CMAKE_SOURCE_DIR}/cmake/imgstream.pc.in
               ${CMAKE_BINARY_DIR}/generated/imgstream.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/generated/imgstream.pc
        DESTINATION ${ims_pc_dir} COMPONENT Development)

include(CMakePackageConfigHelpers)
configure_file(${CMAKE_SOURCE_DIR}/cmake/imgstreamConfig.cmake.in
               ${CMAKE_BINARY_DIR}/generated/imgstreamConfig.cmake @ONLY)
# 0.x: a minor version may break the API, so only the same minor fits.
write_basic_package_version_file(
  ${CMAKE_BINARY_DIR}/generated/imgstreamConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/imgstreamConfig.cmake
              ${CMAKE_BINARY_DIR}/generated/imgstreamConfigVersion.cmake
        DESTINATION ${ims_cmake_dir} COMPONENT Development)

# systemd units (packaging/systemd/), ExecStart pointing at the install
# prefix's binary (cmake/install_units.cmake), and example config files.
install(CODE "
  set(IMS_UNITS_SRC \"${CMAKE_SOURCE_DIR}/packaging/systemd\")
  set(IMS_UNITS_TMP \"${CMAKE_BINARY_DIR}/generated/units\")
  set(CMAKE_INSTALL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  include(\"${CMAKE_SOURCE_DIR}/cmake/install_units.cmake\")"
  COMPONENT Runtime)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/stream.conf.example
              ${CMAKE_SOURCE_DIR}/packaging/systemd/produce.conf.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/imgstream/examples
        COMPONENT Runtime)

# bash completion of the commands and options (from each command's
# --help, at completion time).
install(FILES ${CMAKE_SOURCE_DIR}/packaging/bash-completion/imgstream
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        COMPONENT Runtime)

# The example programs (examples/), to build against this install with
# pkg-config or find_package.
install(FILES ${CMAKE_SOURCE_DIR}/examples/classify_one.c
              ${CMAKE_SOURCE_DIR}/examples/stream_sink.c
              ${CMAKE_SOURCE_DIR}/examples/CMakeLists.txt
              ${CMAKE_SOURCE_DIR}/examples/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/imgstream/examples
        COMPONENT Development)
